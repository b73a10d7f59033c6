/**
 * Every error the daemon raises or sends on purpose is declared here once, with a stable
 * code (and the HTTP status, or the exit status, it ends in), so logs, HTTP answers, exit
 * codes and tests can rely on the code rather than the wording; every throw in daemon/ is
 * a LogflowError (or one of its subclasses below) with one of these codes. docs/errors.md
 * describes each. test/errors.test.ts fails when a code used in daemon/ is missing here,
 * one declared here is used nowhere or missing from docs/errors.md, or daemon/ throws an
 * error without a code.
 */
/** The codes of errors raised inside the daemon (config, transport, storage, threads). */
const DAEMON_ERROR_CODES = [
  'LF_CONFIG_SYNTAX',
  'LF_CONFIG_UNKNOWN_KEY',
  'LF_CONFIG_MISSING_KEY',
  'LF_CONFIG_BAD_VALUE',
  /** A valid setting that cannot be used as it is (a port in use, a directory not writable): names the key. */
  'LF_CONFIG_UNUSABLE',
  /** A log format string (`logFormat`, `--log-format`) that does not compile to a parser. */
  'LF_LOG_FORMAT',
  /** An `ipFilterRules` rule that cannot be read. */
  'LF_IP_FILTER_RULE',
  'LF_AVRO_FRAME',
  'LF_AVRO_HANDSHAKE',
  'LF_AVRO_MESSAGE',
  'LF_AVRO_REMOTE',
  'LF_AVRO_TIMEOUT',
  'LF_AVRO_CLOSED',
  'LF_CHANNEL_FULL',
  /** A put or take on a channel that was closed (a stop racing a source or sink). */
  'LF_CHANNEL_CLOSED',
  /** A put of more events than the channel's transactionCapacity (Flume's ChannelException). */
  'LF_CHANNEL_TRANSACTION',
  'LF_CHECKPOINT_CORRUPT',
  'LF_CHECKPOINT_INCOMPATIBLE',
  'LF_LOCKED',
  /** The results database (a file or a server), or a spool source's files.db, cannot be opened or used as configured (the message names the file or server, and why). */
  'LF_DATABASE',
  /** The results database server is not reachable now (refused, gone, starting up): retried, nothing lost. */
  'LF_DATABASE_UNAVAILABLE',
  /** A worker thread (job or HTTP) failed or ended with no declared error of its own. */
  'LF_THREAD_FAILED',
  /**
   * A counter or merge worker published where another has taken over, or an edge found its
   * subject moved on by another process (JetStream's expected last sequence).
   */
  'LF_FENCED',
  /** The spool source's records (files.db) cannot be written (a full or read-only file system): the file waits; caught inside. */
  'LF_RECORDS_UNWRITABLE',
  /** Work cut short by a stop (a file being read goes back to pending); caught inside, never reported. */
  'LF_STOPPED',
  /** An input that is not a regular file (a directory, a device). */
  'LF_NOT_A_FILE',
  /** A check of the daemon's own invariants failed: a bug; the message says which. */
  'LF_INVARIANT',
  /**
   * A setting differs from what the cluster runs with (a stream's replicas or limits, the
   * lease bucket's expiry, the settings every process shares): names the key.
   */
  'LF_CLUSTER_MISMATCH',
  /** A stream a cluster tier reads does not exist yet (the tier before it creates it): retried; caught inside. */
  'LF_STREAM_MISSING',
  /** A message or record on a cluster stream that cannot be read (another version, cut short): skipped and logged. */
  'LF_WIRE',
  /** A URL longer than a cluster message may be (the servers' max_payload). */
  'LF_MESSAGE_TOO_LARGE',
  /** A message to the cluster was not stored, or one before it on its subject was not: the sink sends them again. */
  'LF_PUBLISH_FAILED',
] as const;

/**
 * Every code the HTTP API answers with, and its status: the one place where an error
 * becomes a status (http/errors.ts sendError answers with it). `error` is the status's
 * reason phrase, sent as the body's `error`.
 */
export const HTTP_ERRORS = {
  LF_HTTP_BAD_PARAMETER: { status: 400, error: 'Bad Request' },
  /** The request itself is malformed (a body too large, a bad content type): Fastify's 4xx, this code. */
  LF_HTTP_BAD_REQUEST: { status: 400, error: 'Bad Request' },
  LF_HTTP_UNAUTHORIZED: { status: 401, error: 'Unauthorized' },
  /** A connection that did not send its request's headers in time (Node closes it). */
  LF_HTTP_REQUEST_TIMEOUT: { status: 408, error: 'Request Timeout' },
  /** A header block over Node's limit (16 KB), refused before routing. */
  LF_HTTP_HEADERS_TOO_LARGE: { status: 431, error: 'Request Header Fields Too Large' },
  LF_HTTP_NOT_FOUND: { status: 404, error: 'Not Found' },
  LF_HTTP_NO_JOB: { status: 404, error: 'Not Found' },
  /** `/api/files/:name/check`: a name the source has not seen, or a file no longer in the spool. */
  LF_HTTP_NO_FILE: { status: 404, error: 'Not Found' },
  LF_HTTP_FILE_GONE: { status: 404, error: 'Not Found' },
  /** `/api/files/:name/check`: a file the source did not read (a symbolic link it refused, say): never opened for a client. */
  LF_HTTP_FILE_NOT_READ: { status: 404, error: 'Not Found' },
  /** `/api/files/:name/check`: the name now holds another file than the one read (replaced, or its link re-pointed). */
  LF_HTTP_FILE_REPLACED: { status: 404, error: 'Not Found' },
  /** A Host header the server does not answer to (DNS rebinding): see `a1.http.allowedHosts`. */
  LF_HTTP_MISDIRECTED: { status: 421, error: 'Misdirected Request' },
  /** A request that failed inside: answered 500, details only in the log. */
  LF_HTTP_INTERNAL: { status: 500, error: 'Internal Server Error' },
  LF_HTTP_TOO_MANY_STREAMS: { status: 503, error: 'Service Unavailable' },
  /** The results database server is not reachable (or its tables are not made yet): retry later. */
  LF_HTTP_STORE_UNAVAILABLE: { status: 503, error: 'Service Unavailable' },
  /** The job's live window did not answer (it is starting or stopping). */
  LF_HTTP_JOB_UNAVAILABLE: { status: 503, error: 'Service Unavailable' },
  /** Every query thread is busy and 64 range queries wait already: try again. */
  LF_HTTP_BUSY: { status: 503, error: 'Service Unavailable' },
} as const satisfies Record<string, { status: number; error: string }>;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

/**
 * Every code the `logflow` command and the daemon's command line end with, and its exit
 * status: the one place where an error becomes an exit code (cli.ts, main.ts).
 */
export const CLI_ERRORS = {
  /** A file failed or was refused, or the daemon answered with an error. */
  LF_CLI_FAILED: { exit: 1 },
  /** The daemon could not be reached, or did not finish in time. */
  LF_CLI_UNREACHABLE: { exit: 2 },
  /** A bad command line (BSD's EX_USAGE). */
  LF_CLI_USAGE: { exit: 64 },
} as const satisfies Record<string, { exit: number }>;

export type CliErrorCode = keyof typeof CLI_ERRORS;

export type ErrorCode = (typeof DAEMON_ERROR_CODES)[number] | HttpErrorCode | CliErrorCode;

/** Every declared code: the daemon's, the HTTP API's and the command line's. */
export const ERROR_CODES: readonly ErrorCode[] = [
  ...DAEMON_ERROR_CODES,
  ...(Object.keys(HTTP_ERRORS) as HttpErrorCode[]),
  ...(Object.keys(CLI_ERRORS) as CliErrorCode[]),
];

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && (ERROR_CODES as readonly string[]).includes(code);
}

export function isHttpErrorCode(code: unknown): code is HttpErrorCode {
  return typeof code === 'string' && Object.hasOwn(HTTP_ERRORS, code);
}

export class LogflowError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'LogflowError';
    this.code = code;
  }
}

/** A configuration problem, located in the file so the operator can go straight to it. */
export class ConfigError extends LogflowError {
  readonly key: string | undefined;
  readonly line: number | undefined;
  constructor(code: ErrorCode, message: string, key?: string, line?: number) {
    super(code, message);
    this.name = 'ConfigError';
    this.key = key;
    this.line = line;
  }
}

/** A command line's failure: its code says how the command exits (CLI_ERRORS). */
export class CliError extends LogflowError {
  declare readonly code: CliErrorCode;
  constructor(code: CliErrorCode, message: string) {
    super(code, message);
    this.name = 'CliError';
  }

  get exitCode(): number {
    return CLI_ERRORS[this.code].exit;
  }
}

/** How a command ends on `err`: its declared exit status, else 1. */
export function exitCodeOf(err: unknown): number {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && Object.hasOwn(CLI_ERRORS, code) ? CLI_ERRORS[code as CliErrorCode].exit : 1;
}

/** A failure a worker thread reports to its host (errors do not cross threads intact). */
export interface ThreadFailure {
  readonly message: string;
  readonly code: string | undefined;
  /** The config key the failure is about, relative to the component's own prefix. */
  readonly key?: string;
  /** The file or directory it is about, when it is one (the start-up error says whose it is). */
  readonly path?: string;
  /** The system or SQLite code under a declared one (ENOSPC under LF_DATABASE), for the hint. */
  readonly cause?: string;
}

export function threadFailureOf(err: unknown, key?: string): ThreadFailure {
  const e = err as { message?: unknown; code?: unknown; path?: unknown; cause?: { code?: unknown } };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const cause = typeof e?.cause?.code === 'string' ? e.cause.code : undefined;
  return {
    message,
    code: typeof e?.code === 'string' ? e.code : undefined,
    ...(key === undefined ? {} : { key }),
    ...(typeof e?.path === 'string' ? { path: e.path } : {}),
    ...(cause === undefined ? {} : { cause }),
  };
}

/**
 * The host's error for a thread's failure: its own declared code, or LF_THREAD_FAILED; the
 * message says which component (its config key) failed, so the operator knows where to look.
 */
export function errorOfThreadFailure(f: ThreadFailure, componentKey?: string): LogflowError {
  const code = isErrorCode(f.code) ? f.code : 'LF_THREAD_FAILED';
  if (componentKey === undefined) return new LogflowError(code, f.message);
  const where = f.key === undefined ? componentKey : `${componentKey}.${f.key}`;
  return new LogflowError(code, `${f.message} (${where})`);
}
