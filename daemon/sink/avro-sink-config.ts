import type { PropertyReader, ReadContext } from '../conf/index.js';
import { readCompressionType, readTruststore } from '../avro/transport-config.js';
import { DEFAULT_COMPRESSION_LEVEL, type CompressionType } from '../avro/deflate-wire.js';

export interface AvroSinkConfig {
  readonly name: string;
  readonly type: 'avro';
  readonly channel: string;
  readonly hostname: string;
  readonly port: number;
  readonly batchSize: number;
  readonly connectTimeout: number;
  readonly requestTimeout: number;
  /** Flume's `compression-type` (absent: none). */
  readonly compressionType?: CompressionType;
  /** zlib level (0-9) when `compressionType` is `deflate`. */
  readonly compressionLevel?: number;
  /** `ssl = true`: the CAs to trust (PEM; absent: the system's), or none checked. */
  readonly tls?: { readonly ca?: Buffer; readonly trustAll: boolean };
}

/** Reads `<agent>.sinks.<name>.*` of an avro sink. */
export function read(r: PropertyReader, p: string, { name, resolve, knownChannel }: ReadContext): AvroSinkConfig {
  const tlsConfig = readTruststore(r, p, resolve);
  return Object.freeze({
    ...(tlsConfig && { tls: tlsConfig }),
    name,
    type: 'avro',
    channel: knownChannel(p + '.channel', r.string(p + '.channel')),
    hostname: r.string(p + '.hostname'),
    port: r.int(p + '.port', undefined, 1, 65535),
    batchSize: r.int(p + '.batch-size', 100, 1, 1_000_000),
    connectTimeout: r.int(p + '.connect-timeout', 20_000, 1, 3_600_000),
    requestTimeout: r.int(p + '.request-timeout', 20_000, 1, 3_600_000),
    compressionType: readCompressionType(r, p + '.compression-type'),
    compressionLevel: r.int(p + '.compression-level', DEFAULT_COMPRESSION_LEVEL, 0, 9),
  });
}
