import type { PropertyReader } from '../conf/index.js';

/** `sslmode` values node-postgres can honour (libpq's `prefer` and `allow` fall back to plain text, which it cannot). */
export const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** A PostgreSQL results database: where it is and how to log in (plain data: it is posted to the job's and the HTTP's threads). */
export interface PostgresConfig {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** From the URL (typically `${ENV}`); undefined: the client reads PGPASSWORD, as libpq does. */
  readonly password: string | undefined;
  readonly database: string;
  readonly sslMode: SslMode;
  /** `sslrootcert`: the CA certificate(s) a verifying mode trusts (a resolved path). */
  readonly sslRootCert: string | undefined;
}

/** `a1.jobs.<job>.database`: a SQLite file, or a PostgreSQL server. */
export interface DatabaseSetting {
  /** What logs, errors and the API show: the resolved file, or the URL without its password. */
  readonly database: string;
  readonly postgres?: PostgresConfig;
}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
const POSTGRES_SCHEMES = ['postgres', 'postgresql'];
const QUERY_KEYS = ['sslmode', 'sslrootcert'];

/**
 * Reads `key`: a path (SQLite, resolved against the start directory) or
 * `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=...&sslrootcert=...]`. Any other
 * `scheme://` is refused: up to this, `postgres://...` silently became a SQLite file under
 * a folder named `postgres:`. Errors name the key and show the URL without its password.
 */
export function readDatabase(r: PropertyReader, key: string, fallback: string, resolve: (p: string) => string): DatabaseSetting {
  const value = r.string(key, fallback);
  const scheme = SCHEME.exec(value)?.[1];
  if (scheme === undefined) return { database: resolve(value) };
  const prop = r.raw(key)!;
  const fail = (why: string) => r.at(prop, `${why} (${redact(value)})`);
  if (!POSTGRES_SCHEMES.includes(scheme.toLowerCase())) {
    throw fail(`${scheme}:// is not a results database logflow can write: give a SQLite file path, or postgres://USER@HOST:PORT/DB`);
  }
  return { database: redact(value), postgres: parsePostgresUrl(value.slice(scheme.length + 3), fail, resolve) };
}

/**
 * The part after `postgres://`. Parsed by hand, not with URL: a password put in from an
 * environment variable may hold `@`, `/` or `#`, so the user part ends at the last `@`
 * before the path. The password is percent-decoded, as libpq does.
 */
function parsePostgresUrl(rest: string, fail: (why: string) => Error, resolve: (p: string) => string): PostgresConfig {
  const at = rest.lastIndexOf('@', lastAtBound(rest));
  if (at < 0) throw fail('names no user: write postgres://USER@HOST:PORT/DB');
  const userInfo = rest.slice(0, at);
  const colon = userInfo.indexOf(':');
  const user = decode(colon < 0 ? userInfo : userInfo.slice(0, colon), 'user', fail);
  const password = colon < 0 ? undefined : decode(userInfo.slice(colon + 1), 'password', fail);
  if (user === '') throw fail('names no user: write postgres://USER@HOST:PORT/DB');
  const afterUser = rest.slice(at + 1);
  const slash = afterUser.indexOf('/');
  if (slash < 0) throw fail('names no database: write postgres://USER@HOST:PORT/DB');
  const hostPort = afterUser.slice(0, slash);
  const [pathPart, query = ''] = splitOnce(afterUser.slice(slash + 1), '?');
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(hostPort);
  if (!m) throw fail(`has no valid HOST[:PORT] (${JSON.stringify(hostPort)})`);
  const port = m[2] === undefined ? 5432 : Number(m[2]);
  if (port < 1 || port > 65535) throw fail(`port ${port} is not from 1 to 65535`);
  const database = decode(pathPart!, 'database', fail);
  if (database === '' || database.includes('/')) throw fail('names no database: write postgres://USER@HOST:PORT/DB');
  const params = new Map<string, string>();
  for (const pair of query.split('&').filter(Boolean)) {
    const [k, v = ''] = splitOnce(pair, '=');
    if (!QUERY_KEYS.includes(k!)) throw fail(`has an unknown parameter ${JSON.stringify(k)} (known: ${QUERY_KEYS.join(', ')})`);
    params.set(k!, decode(v, k!, fail));
  }
  const mode = params.get('sslmode') ?? 'disable';
  if (!(SSL_MODES as readonly string[]).includes(mode)) {
    throw fail(`sslmode must be one of ${SSL_MODES.join(', ')}, got ${JSON.stringify(mode)} (prefer and allow would fall back to no TLS, which the client cannot do)`);
  }
  const rootCert = params.get('sslrootcert');
  if (rootCert !== undefined && (mode === 'disable' || mode === 'require')) {
    throw fail(`sslrootcert is read with sslmode=verify-ca or verify-full, not ${mode}`);
  }
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return Object.freeze({ host, port, user, password, database, sslMode: mode as SslMode, sslRootCert: rootCert === undefined ? undefined : resolve(rootCert) });
}

/** Where the user part can end: before the path's first `/` that follows an `@`. */
function lastAtBound(rest: string): number {
  const firstAt = rest.indexOf('@');
  if (firstAt < 0) return -1;
  // HOST:PORT/DB after the last `@` has no `@`; a `/` may be in the password.
  const slashAfter = rest.indexOf('/', rest.lastIndexOf('@'));
  return slashAfter < 0 ? rest.length : slashAfter;
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

function decode(s: string, what: string, fail: (why: string) => Error): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw fail(`the ${what} is not percent-encoded correctly (write %25 for %)`);
  }
}

/** The URL as it may be shown: the password replaced by `***`. */
export function redact(url: string): string {
  const scheme = SCHEME.exec(url)?.[0];
  if (!scheme) return url;
  const rest = url.slice(scheme.length);
  const at = rest.lastIndexOf('@', lastAtBound(rest));
  if (at < 0) return url;
  const colon = rest.slice(0, at).indexOf(':');
  return colon < 0 ? url : `${scheme}${rest.slice(0, colon)}:***${rest.slice(at)}`;
}
