import type { PropertyReader } from '../conf/index.js';

/** `nats://host:port` list, comma separated (the form NATS tools take). */
export function readServers(r: PropertyReader, key: string): string[] {
  const servers = r.string(key).split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of servers) {
    if (!/^(nats|tls):\/\/[^\s/]+:\d+$/.test(s) && !/^[^\s/:]+:\d+$/.test(s)) throw r.bad(r.raw(key)!, 'a comma-separated list of nats://host:port');
  }
  if (servers.length === 0) throw r.bad(r.raw(key)!, 'at least one nats://host:port');
  return servers;
}

/** A stream or subject name: NATS tokens (no spaces, no wildcards). */
export function readName(r: PropertyReader, key: string, fallback: string, subject = false): string {
  const value = r.string(key, fallback);
  const ok = subject ? /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/ : /^[A-Za-z0-9_-]+$/;
  if (!ok.test(value)) throw r.bad(r.raw(key)!, subject ? 'a NATS subject of letters, digits, _ and - tokens joined by dots' : 'a stream name of letters, digits, _ and -');
  return value;
}
