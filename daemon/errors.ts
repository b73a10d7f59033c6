/**
 * Every error the daemon raises or sends on purpose is declared here once, with a stable
 * code and the HTTP status it is answered with, so logs, HTTP answers and tests can rely on
 * the code rather than the wording. test/errors.test.ts fails when a code used in daemon/
 * is missing here, or one declared here is used nowhere.
 */
/** The codes of errors raised inside the daemon (config, transport, storage, threads). */
const DAEMON_ERROR_CODES = [
  'LF_CONFIG_SYNTAX',
  'LF_CONFIG_UNKNOWN_KEY',
  'LF_CONFIG_MISSING_KEY',
  'LF_CONFIG_BAD_VALUE',
  /** A valid setting that cannot be used as it is (a port in use, a directory not writable): names the key. */
  'LF_CONFIG_UNUSABLE',
  'LF_CLI_USAGE',
  'LF_AVRO_FRAME',
  'LF_AVRO_HANDSHAKE',
  'LF_AVRO_MESSAGE',
  'LF_AVRO_REMOTE',
  'LF_AVRO_TIMEOUT',
  'LF_AVRO_CLOSED',
  'LF_CHANNEL_FULL',
  /** A put or take on a channel that was closed (a stop racing a source or sink). */
  'LF_CHANNEL_CLOSED',
  'LF_CHECKPOINT_CORRUPT',
  'LF_CHECKPOINT_INCOMPATIBLE',
  'LF_LOCKED',
  /** The results database cannot be opened (the message names the file). */
  'LF_DATABASE',
  /** A worker thread (job or HTTP) failed or ended with no declared error of its own. */
  'LF_THREAD_FAILED',
  /**
   * A setting differs from what the cluster runs with (a stream's replicas or limits, the
   * lease bucket's expiry, the settings every process shares): names the key.
   */
  'LF_CLUSTER_MISMATCH',
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
  LF_HTTP_NOT_FOUND: { status: 404, error: 'Not Found' },
  LF_HTTP_NO_JOB: { status: 404, error: 'Not Found' },
  /** `/api/files/:name/check`: a name the source has not seen, or a file no longer in the spool. */
  LF_HTTP_NO_FILE: { status: 404, error: 'Not Found' },
  LF_HTTP_FILE_GONE: { status: 404, error: 'Not Found' },
  /** A Host header the server does not answer to (DNS rebinding): see `a1.http.allowedHosts`. */
  LF_HTTP_MISDIRECTED: { status: 421, error: 'Misdirected Request' },
  /** A request that failed inside: answered 500, details only in the log. */
  LF_HTTP_INTERNAL: { status: 500, error: 'Internal Server Error' },
  LF_HTTP_TOO_MANY_STREAMS: { status: 503, error: 'Service Unavailable' },
} as const satisfies Record<string, { status: number; error: string }>;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

export type ErrorCode = (typeof DAEMON_ERROR_CODES)[number] | HttpErrorCode;

/** Every declared code, the daemon's and the HTTP API's. */
export const ERROR_CODES: readonly ErrorCode[] = [...DAEMON_ERROR_CODES, ...(Object.keys(HTTP_ERRORS) as HttpErrorCode[])];

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

/** A failure a worker thread reports to its host (errors do not cross threads intact). */
export interface ThreadFailure {
  readonly message: string;
  readonly code: string | undefined;
  /** The config key the failure is about, relative to the component's own prefix. */
  readonly key?: string;
}

export function threadFailureOf(err: unknown, key?: string): ThreadFailure {
  const e = err as { message?: unknown; code?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return { message, code: typeof e?.code === 'string' ? e.code : undefined, ...(key === undefined ? {} : { key }) };
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
