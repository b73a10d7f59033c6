/**
 * What every `logflow` command shares: exit codes, the daemon's address and token, and a
 * small JSON client over fetch.
 */
import type { ApiStats } from '../telemetry/stats.js';

/** Exit codes scripts can rely on (also in `--help` and the README). */
export const EXIT = {
  ok: 0,
  /** A file failed or was refused, or the daemon answered with an error. */
  failed: 1,
  /** The daemon could not be reached, or did not finish in time. */
  unreachable: 2,
  /** Bad command line (BSD's EX_USAGE, as the daemon itself uses). */
  usage: 64,
} as const;

export class CliError extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
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

exit codes: 0 ok, 1 failed (a file failed or was refused, or the daemon answered an error),
            2 the daemon could not be reached or did not finish in time, 64 bad command line`;

export class DaemonClient {
  readonly url: string;
  readonly #token: string | undefined;

  constructor(url: string | undefined, token: string | undefined) {
    this.url = (url ?? process.env.LOGFLOW_URL ?? DEFAULT_URL).replace(/\/+$/, '');
    if (!/^https?:\/\/[^/]/.test(this.url)) throw new CliError(EXIT.usage, `--url must be an http:// or https:// address, not ${JSON.stringify(this.url)}`);
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
      throw new CliError(EXIT.unreachable, `cannot reach the daemon at ${this.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
    const text = await res.text();
    if (res.status === 401) throw new CliError(EXIT.failed, `the daemon at ${this.url} wants a token: pass --token or set LOGFLOW_TOKEN`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new CliError(EXIT.failed, `${this.url}${route} did not answer JSON (HTTP ${res.status}); is --url a logflow daemon?`);
    }
    if (!res.ok) throw new CliError(EXIT.failed, `${route}: ${(body as { message?: string }).message ?? `HTTP ${res.status}`}`);
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

export const number = new Intl.NumberFormat('en-US');

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** Columns padded to their widest cell; `right` columns are aligned right (numbers). */
export function table(rows: string[][], right: ReadonlySet<number> = new Set()): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) => r.map((cell, i) => (i === r.length - 1 && !right.has(i) ? cell : right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  '))
    .join('\n') + '\n';
}
