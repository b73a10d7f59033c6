import type { PropertyReader, ReadContext } from '../conf/index.js';
import { readCompressionType, readIpFilter, readKeystore } from '../avro/transport-config.js';
import type { CompressionType, IpFilterRule } from '../avro/index.js';
import { readInterceptors, readSourceChannel, type InterceptorConfig } from './source-config.js';

/** Flume's avro source: receives AvroSourceProtocol calls and puts their events into a channel. */
export interface AvroSourceConfig {
  readonly name: string;
  readonly type: 'avro';
  readonly channel: string;
  readonly bind: string;
  readonly port: number;
  readonly compressionType: CompressionType;
  readonly interceptors: readonly InterceptorConfig[];
  /** `ssl = true`: the PKCS12 keystore's bytes and password. */
  readonly tls?: { readonly pfx: Buffer; readonly passphrase: string };
  /** Flume's `ipFilter` + `ipFilterRules` (undefined: anyone may connect). */
  readonly ipFilterRules: readonly IpFilterRule[] | undefined;
  /** Connections open at once; past it, the one that has gone longest without a call is closed. */
  readonly maxConnections: number;
}

/** Reads `<agent>.sources.<name>.*` of an avro source. */
export function read(r: PropertyReader, p: string, { name, resolve, knownChannel }: ReadContext): AvroSourceConfig {
  const channel = readSourceChannel(r, p, knownChannel);
  const tlsConfig = readKeystore(r, p, resolve);
  return Object.freeze({
    ...(tlsConfig && { tls: tlsConfig }),
    name,
    type: 'avro',
    channel,
    bind: r.string(p + '.bind'),
    port: r.int(p + '.port', undefined, 0, 65535),
    compressionType: readCompressionType(r, p + '.compression-type'),
    interceptors: readInterceptors(r, p),
    ipFilterRules: readIpFilter(r, p),
    maxConnections: r.int(p + '.maxConnections', 1000, 1, 100_000),
  });
}
