import os from 'node:os';
import type { PropertyReader } from '../conf/index.js';

/** `a1.http.*`: where the API listens and who may use it. */
export interface HttpConfig {
  readonly bind: string;
  readonly port: number;
  /** When set, `/api/*` and `/metrics` want `Authorization: Bearer <token>`. */
  readonly authToken: string | undefined;
  /** Host header names answered (`*`: any); see defaultAllowedHosts. */
  readonly allowedHosts: readonly string[];
  /**
   * How much lower (a nice increment, 0-19) the pipeline's threads run than the HTTP
   * thread, so that on a busy box queries are answered first (Linux; 0 turns it off).
   */
  readonly pipelineNice: number;
  /** Connections open at once (dashboards, API clients, event streams); more are closed at once, counted. */
  readonly maxConnections: number;
  /** Threads that run the history's range queries, off the HTTP thread (query-pool.ts). */
  readonly queryThreads: number;
}

/** Enough for many dashboards and scripts; each connection is a descriptor (see fd-headroom.ts). */
export const DEFAULT_MAX_CONNECTIONS = 1000;

const isLoopback = (host: string) => host === 'localhost' || host.startsWith('127.') || host === '::1';
const bracketed = (address: string) => (address.includes(':') ? `[${address}]` : address);

/**
 * The names a browser may use to reach this server: loopback always, the bind address, and
 * for a bind that is not loopback the machine's name (and every interface's address when
 * it binds all of them).
 */
export function defaultAllowedHosts(bind: string): string[] {
  const hosts = new Set(['localhost', '127.0.0.1', '[::1]', bracketed(bind)]);
  if (!isLoopback(bind)) hosts.add(os.hostname().toLowerCase());
  if (bind === '0.0.0.0' || bind === '::') {
    for (const list of Object.values(os.networkInterfaces())) {
      for (const a of list ?? []) hosts.add(bracketed(a.address));
    }
  }
  hosts.delete('[0.0.0.0]');
  hosts.delete('0.0.0.0');
  hosts.delete('[::]');
  return [...hosts];
}

export function read(r: PropertyReader, p: string): HttpConfig {
  const token = r.raw(p + '.authToken');
  if (token && token.value.length < 16) throw r.at(token, 'must be at least 16 characters');
  const bind = r.string(p + '.bind', '127.0.0.1');
  const hostsProp = r.raw(p + '.allowedHosts');
  let allowedHosts = defaultAllowedHosts(bind);
  if (hostsProp) {
    const names = hostsProp.value.split(/[\s,]+/).filter(Boolean).map((h) => h.toLowerCase());
    const bad = names.find((h) => h !== '*' && !/^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(:\d+)?$/.test(h));
    if (names.length === 0 || bad !== undefined) throw r.at(hostsProp, `must be host names or addresses (or *), separated by commas: ${JSON.stringify(bad ?? '')} is not one`);
    allowedHosts = names.includes('*') ? ['*'] : [...new Set([...names, ...allowedHosts])];
  }
  return Object.freeze({
    bind,
    port: r.int(p + '.port', 8080, 0, 65535),
    authToken: token?.value,
    allowedHosts: Object.freeze(allowedHosts),
    pipelineNice: r.int(p + '.pipelineNice', 10, 0, 19),
    maxConnections: r.int(p + '.maxConnections', DEFAULT_MAX_CONNECTIONS, 1, 1_000_000),
    queryThreads: r.int(p + '.queryThreads', 2, 1, 16),
  });
}
