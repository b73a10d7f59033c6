import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { LogflowError } from '../../errors.js';
import type { PostgresConfig } from '../database-config.js';

/** int8 (count, sum of counts as bigint) and numeric (sum of bigints) as numbers: counts stay far below 2^53. */
const TYPES = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === 20 || oid === 1700) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  }) as typeof pg.types.getTypeParser,
};

/** A connection attempt that hangs (a host that drops packets) gives up after this, and is retried. */
const CONNECT_TIMEOUT_MS = 10_000;
/** A statement with no answer for this long (a server gone without a word) fails, so the job can retry. */
const QUERY_TIMEOUT_MS = 120_000;

/** The client's settings for `config`; `applicationName` shows in pg_stat_activity. */
export function clientConfig(config: PostgresConfig, applicationName: string): pg.ClientConfig {
  return {
    host: config.host,
    port: config.port,
    user: config.user,
    // undefined: the client falls back to PGPASSWORD, as libpq does.
    ...(config.password !== undefined && { password: config.password }),
    database: config.database,
    ssl: sslOptions(config),
    application_name: applicationName,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    keepAlive: true,
    types: TYPES,
  };
}

function sslOptions(config: PostgresConfig): false | ConnectionOptions {
  switch (config.sslMode) {
    case 'disable':
      return false;
    case 'require':
      // libpq's require: encrypted, the certificate not checked.
      return { rejectUnauthorized: false };
    case 'verify-ca':
    case 'verify-full': {
      const ca = config.sslRootCert === undefined ? undefined : readFileSync(config.sslRootCert);
      return {
        rejectUnauthorized: true,
        ...(ca && { ca }),
        // verify-ca: the chain is checked, not the name.
        ...(config.sslMode === 'verify-ca' && { checkServerIdentity: () => undefined }),
      };
    }
  }
}

/**
 * Why a connection or statement failed, as the daemon acts on it:
 * - `unreachable`: the server is not there yet or went away (refused, reset, timed out,
 *   starting up, shutting down, too many connections): wait and retry, losing nothing;
 * - `config`: retrying will not help until the setting or the server is changed (a host name
 *   that does not resolve, a password refused, a database that does not exist, no right to
 *   create the tables): stops start-up naming the key.
 */
export type PgFailure = 'unreachable' | 'config';

/** SQLSTATEs of a server that is not (yet, or any more) able to serve. */
const UNREACHABLE_STATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, or in recovery)
  '53300', // too_many_connections
  '08000', '08003', '08006', '08001', '08004', // connection exceptions
]);
/** SQLSTATEs no retry cures: credentials, a missing database, missing rights. */
const CONFIG_STATES: Record<string, string> = {
  '28P01': 'the server refused the password',
  '28000': 'the server refused this user (pg_hba.conf, or no such role)',
  '3D000': 'the database does not exist (create it: createdb, or CREATE DATABASE)',
  '42501': 'the user may not create the tables logflow needs (GRANT CREATE ON SCHEMA, or run the daemon once as the schema\'s owner)',
  '3F000': 'the schema in the search_path does not exist',
};
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN', 'ECONNABORTED']);

export function classify(err: unknown): PgFailure {
  const e = err as { code?: string; message?: string };
  if (e?.code && Object.hasOwn(CONFIG_STATES, e.code)) return 'config';
  if (e?.code === 'ENOTFOUND' || e?.code === 'LF_CONFIG_UNUSABLE' || e?.code === 'LF_CHECKPOINT_INCOMPATIBLE') return 'config';
  if (e?.code && (UNREACHABLE_STATES.has(e.code) || UNREACHABLE_CODES.has(e.code))) return 'unreachable';
  // The client's own words for a socket that ended or a connect that timed out.
  if (/Connection terminated|timeout|ended unexpectedly|not queryable|Client was closed|connect/i.test(e?.message ?? '')) return 'unreachable';
  return 'config';
}

/** What to do about a `config` failure, for the message that names the key. */
export function hintOf(err: unknown): string | undefined {
  const code = (err as { code?: string })?.code;
  if (code === 'ENOTFOUND') return 'the host name does not resolve';
  return code === undefined ? undefined : CONFIG_STATES[code];
}

/** A failure to reach or use the results database, as the job and the HTTP side report it. */
export function databaseError(where: string, err: unknown): LogflowError {
  const e = err as { message?: string; code?: string };
  const hint = hintOf(err);
  const code = classify(err) === 'unreachable' ? 'LF_DATABASE_UNAVAILABLE' : 'LF_DATABASE';
  return new LogflowError(code, `${where}: ${e?.message ?? String(err)}${e?.code ? ` (${e.code})` : ''}${hint ? `; ${hint}` : ''}`, { cause: err });
}
