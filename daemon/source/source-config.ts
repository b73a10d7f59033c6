import os from 'node:os';
import type { PropertyReader } from '../conf/index.js';
import { SOURCE_ID } from './file-key.js';

/** Flume's interceptors that set one header to the same value for a whole batch. */
export interface InterceptorConfig {
  readonly type: 'timestamp' | 'host' | 'static';
  readonly headerName: string;
  readonly preserveExisting: boolean;
  /** `static`: the value; `host`: the host name or address, resolved at start-up. */
  readonly value: string | undefined;
}

/** `sourceId` of a file source (spooldir, TAILDIR): absent, the source makes one and keeps it (file-key.ts). */
export function readSourceId(r: PropertyReader, key: string): { sourceId?: string } {
  const prop = r.raw(key);
  if (!prop) return {};
  if (!SOURCE_ID.test(prop.value)) throw r.bad(prop, 'letters, digits and _ (up to 40): it prefixes file keys and names this edge\'s NATS subjects');
  return { sourceId: prop.value };
}

/** A source's one channel (Flume allows several, with a selector; here one, replicating). */
export function readSourceChannel(r: PropertyReader, p: string, knownChannel: (key: string, value: string) => string): string {
  const channels = r.list(p + '.channels');
  if (channels.length !== 1) {
    const prop = r.raw(p + '.channels');
    if (!prop) throw r.missing(p + '.channels');
    throw r.at(prop, 'exactly one channel is supported');
  }
  if (r.has(p + '.selector.type')) r.oneOf(p + '.selector.type', ['replicating'] as const);
  return knownChannel(p + '.channels', channels[0]!);
}

export function readInterceptors(r: PropertyReader, p: string): InterceptorConfig[] {
  return r.list(p + '.interceptors').map((name) => {
    const ip = `${p}.interceptors.${name}`;
    const type = r.oneOf(ip + '.type', ['timestamp', 'host', 'static'] as const);
    // Flume's defaults: timestamp and host replace the header, static keeps an existing one.
    const preserveExisting = r.bool(ip + '.preserveExisting', type === 'static');
    if (type === 'timestamp') {
      return Object.freeze({ type, headerName: r.string(ip + '.headerName', 'timestamp'), preserveExisting, value: undefined });
    }
    if (type === 'host') {
      const useIP = r.bool(ip + '.useIP', true);
      const host = useIP ? (firstAddress() ?? os.hostname()) : os.hostname();
      return Object.freeze({ type, headerName: r.string(ip + '.hostHeader', 'host'), preserveExisting, value: host });
    }
    return Object.freeze({ type, headerName: r.string(ip + '.key', 'key'), preserveExisting, value: r.string(ip + '.value', 'value') });
  });
}

/** The first non-internal IPv4 address, as Flume's host interceptor uses by default. */
function firstAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}
