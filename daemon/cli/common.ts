/**
 * What every `logflow` command shares: exit codes, the daemon's address and token, and a
 * small JSON client over fetch.
 */
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { CLI_ERRORS, CliError } from '../errors.js';
import type { ApiStats } from '../telemetry/stats.js';

/** Exit codes scripts can rely on (also in `--help` and docs/cli.md); the failures' are declared with their codes in errors.ts. */
export const EXIT = {
  ok: 0,
  failed: CLI_ERRORS.LF_CLI_FAILED.exit,
  unreachable: CLI_ERRORS.LF_CLI_UNREACHABLE.exit,
  usage: CLI_ERRORS.LF_CLI_USAGE.exit,
} as const;

/** A FILE argument: readable and a regular file, else a usage error naming it. */
export function readableFile(file: string): Stats {
  let st: Stats;
  try {
    accessSync(file, constants.R_OK);
    st = statSync(file);
  } catch (e) {
    throw new CliError('LF_CLI_USAGE', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!st.isFile()) throw new CliError('LF_CLI_USAGE', `cannot read ${file}: not a regular file`);
  return st;
}

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** Options every command that talks to the daemon takes, for node:util's parseArgs. */
export const CLIENT_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export const CLIENT_HELP = `  --url URL      the daemon's HTTP address (default $LOGFLOW_URL or ${DEFAULT_URL})
  --token TOKEN  bearer token when a1.http.authToken is set (default $LOGFLOW_TOKEN)
  --json         machine-readable output on stdout
  -h, --help     this help

exit codes: ${EXIT.ok} ok, ${EXIT.failed} failed (a file failed or was refused, or the daemon answered an error),
            ${EXIT.unreachable} the daemon could not be reached or did not finish in time, ${EXIT.usage} bad command line`;

export class DaemonClient {
  readonly url: string;
  readonly #token: string | undefined;

  constructor(url: string | undefined, token: string | undefined) {
    this.url = (url ?? process.env.LOGFLOW_URL ?? DEFAULT_URL).replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]/.test(this.url)) throw new CliError('LF_CLI_USAGE', `--url must be an http:// or https:// address, not ${JSON.stringify(this.url)}`);
    this.#token = token ?? process.env.LOGFLOW_TOKEN ?? undefined;
  }

  async get<T>(route: string): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.url + route, {
        headers: this.#token ? { authorization: `Bearer ${this.#token}` } : {},
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
      throw new CliError('LF_CLI_UNREACHABLE', `cannot reach the daemon at ${this.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    const text = await res.text();
    if (res.status === 401) throw new CliError('LF_CLI_FAILED', `the daemon at ${this.url} wants a token: pass --token or set LOGFLOW_TOKEN`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new CliError('LF_CLI_FAILED', `${this.url}${route} did not answer JSON (HTTP ${res.status}); is --url a logflow daemon?`);
    }
    if (!res.ok) throw new CliError('LF_CLI_FAILED', `${route}: ${(body as { message?: string }).message ?? `HTTP ${res.status}`}`);
    return body as T;
  }
}

export interface FileEntry {
  name: string;
  path: string;
  state: 'pending' | 'reading' | 'completed' | 'failed' | 'duplicate';
  size: number;
  bytesRead: number;
  lines: number;
  parseErrors: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  reason: string | null;
  /** Most lines did not parse (a file in another format). */
  warning?: string | null;
  /** A duplicate's original. */
  duplicateOf?: string | null;
  /** Lines older than the live window: counted in the history only. */
  note?: string | null;
}

/** What /api/stats answers. */
export type StatsBody = ApiStats;

/** A file a TAILDIR source follows, as /api/followed answers. */
export interface FollowedEntry {
  path: string;
  state: string;
  position: number;
  committed: number | null;
  size: number;
  lagBytes: number;
  lines: number;
  reason: string | null;
}

export { bytes, number, table } from '../text-table.js';
