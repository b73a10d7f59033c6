import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { PropertyReader } from '../conf/index.js';
import { UNLIMITED, type StreamLimits, type StreamSpec } from './bus.js';

/**
 * NATS's nkeys, loaded when an nkey file is set: every agent reads this file's keys, and
 * loading the NATS client costs a start 40 ms of CPU per thread that reads a configuration.
 * (The client is CommonJS, so a require() is the synchronous way to load it here.)
 */
function natsNkeys(): typeof import('@nats-io/transport-node').nkeys {
  return (createRequire(import.meta.url)('@nats-io/transport-node') as typeof import('@nats-io/transport-node')).nkeys;
}

/**
 * Where the NATS servers are and how to log in: every cluster component (the jetstream
 * sink, counters, merge workers, query nodes) reads the same keys under its prefix. Values
 * may be `${ENV}` references (resolved by the conf reader), so secrets stay out of the file.
 */
export interface NatsConnectionConfig {
  readonly servers: readonly string[];
  readonly user?: string;
  readonly password?: string;
  readonly token?: string;
  /** The contents of an nkey seed file (`nkey`). */
  readonly nkeySeed?: string;
  /** The contents of a creds file (`credentials`: a user JWT and its nkey seed). */
  readonly credentials?: string;
  /** PEM: the CA that signed the servers' certificates; a client certificate and its key. */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
}

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

/**
 * `servers` and the login: `user` + `password`, or `token`, or `nkey` (a seed file), or
 * `credentials` (a creds file); `tls.ca`, `tls.cert` + `tls.key` (PEM files). Files are
 * read now, so a wrong path or a file of the wrong kind stops start-up with the key.
 */
export function readNatsConnection(r: PropertyReader, p: string, resolve: (path: string) => string): NatsConnectionConfig {
  const servers = readServers(r, p + '.servers');
  const user = r.optionalString(p + '.user');
  const password = r.optionalString(p + '.password');
  const token = r.optionalString(p + '.token');
  if (password !== undefined && user === undefined) throw r.at(r.raw(p + '.password')!, `needs ${p}.user`);
  if (user !== undefined && password === undefined) throw r.missing(p + '.password');
  const file = (key: string, what: string, check: (text: string) => string | undefined): string | undefined => {
    const prop = r.raw(key);
    if (!prop) return undefined;
    let text: string;
    try {
      text = readFileSync(resolve(prop.value), 'utf8');
    } catch (err) {
      throw r.at(prop, `cannot be read: ${(err as Error).message}`);
    }
    const problem = check(text);
    if (problem) throw r.at(prop, `is not ${what}: ${problem}`);
    return text;
  };
  const nkeySeed = file(p + '.nkey', 'an nkey seed file (nsc generate nkey --user)', (text) => {
    try {
      natsNkeys().fromSeed(new TextEncoder().encode(text.trim()));
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  });
  const credentials = file(p + '.credentials', 'a NATS creds file', (text) =>
    text.includes('-----BEGIN NATS USER JWT-----') && text.includes('-----BEGIN USER NKEY SEED-----') ? undefined : 'it has no user JWT and nkey seed blocks');
  const logins = [user && 'user', token && 'token', nkeySeed && 'nkey', credentials && 'credentials'].filter(Boolean);
  if (logins.length > 1) throw r.at(r.raw(`${p}.${logins[1]}`)!, `one login only: ${logins.join(' and ')} are both set`);
  const pem = (key: string, marker: RegExp) => file(key, 'PEM', (text) => (marker.test(text) ? undefined : `no ${marker.source} block`));
  const ca = pem(p + '.tls.ca', /-----BEGIN CERTIFICATE-----/);
  const cert = pem(p + '.tls.cert', /-----BEGIN CERTIFICATE-----/);
  const key = pem(p + '.tls.key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  if ((cert === undefined) !== (key === undefined)) throw cert === undefined ? r.missing(p + '.tls.cert') : r.missing(p + '.tls.key');
  const tls = ca !== undefined || cert !== undefined ? { ...(ca !== undefined && { ca }), ...(cert !== undefined && { cert, key }) } : undefined;
  return Object.freeze({
    servers,
    ...(user !== undefined && { user, password }),
    ...(token !== undefined && { token }),
    ...(nkeySeed !== undefined && { nkeySeed }),
    ...(credentials !== undefined && { credentials }),
    ...(tls && { tls }),
  });
}

const LIMIT_KEYS = { maxAgeMs: 'MaxAge', maxBytes: 'MaxBytes', maxMsgs: 'MaxMsgs', duplicateWindowMs: 'DuplicateWindow', discard: 'Discard' } as const;

/**
 * A stream's limits, under `<p>.<prefix>MaxAge` etc. (`<p>.maxAge` without a prefix):
 * `maxAge` and `duplicateWindow` in seconds (0: no age limit), `maxBytes` and `maxMsgs`
 * (-1: none), `discard` `new` (a full stream refuses: the edges wait, nothing is lost) or
 * `old` (a full stream drops its oldest: counters report the gap). The keys set are
 * checked against an existing stream (`StreamSpec.keys`).
 */
export function readStreamSpec(
  r: PropertyReader,
  p: string,
  o: { name: string; nameKey: string; subject: string; subjectKey: string; replicas: number; replicasKey: string; prefix?: string; defaults?: Partial<StreamLimits> },
): StreamSpec {
  const key = (field: keyof StreamLimits) => `${p}.${o.prefix ? o.prefix + LIMIT_KEYS[field] : LIMIT_KEYS[field][0]!.toLowerCase() + LIMIT_KEYS[field].slice(1)}`;
  const d = { ...UNLIMITED, ...o.defaults };
  const limits: StreamLimits = {
    maxAgeMs: r.seconds(key('maxAgeMs'), d.maxAgeMs / 1000, 0),
    maxBytes: r.int(key('maxBytes'), d.maxBytes, -1, Number.MAX_SAFE_INTEGER),
    maxMsgs: r.int(key('maxMsgs'), d.maxMsgs, -1, Number.MAX_SAFE_INTEGER),
    duplicateWindowMs: r.seconds(key('duplicateWindowMs'), d.duplicateWindowMs / 1000, 100),
    discard: r.oneOf(key('discard'), ['new', 'old'] as const, d.discard),
  };
  if (limits.maxAgeMs > 0 && limits.duplicateWindowMs > limits.maxAgeMs) {
    throw r.at(r.raw(key('duplicateWindowMs')) ?? r.raw(key('maxAgeMs'))!, `the duplicate window (${limits.duplicateWindowMs / 1000} s) cannot be longer than maxAge (${limits.maxAgeMs / 1000} s)`);
  }
  const keys: Record<string, string> = { name: o.nameKey, subject: o.subjectKey };
  if (r.has(o.replicasKey)) keys.replicas = o.replicasKey;
  for (const field of Object.keys(LIMIT_KEYS) as (keyof StreamLimits)[]) if (r.has(key(field))) keys[field] = key(field);
  return Object.freeze({ name: o.name, subject: o.subject, replicas: o.replicas, limits: Object.freeze(limits), keys: Object.freeze(keys) });
}

/** A stream another tier creates: only its name and subjects are checked (it must hold `<subject>.>`). */
export function readStream(name: string, nameKey: string, subject: string, subjectKey: string): StreamSpec {
  return Object.freeze({ name, subject, replicas: 1, limits: UNLIMITED, keys: Object.freeze({ name: nameKey, subject: subjectKey }) });
}
