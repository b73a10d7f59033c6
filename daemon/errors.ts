/**
 * Every error the daemon raises or sends on purpose is declared here once, with a stable
 * code and the HTTP status it is answered with, so logs, HTTP answers and tests can rely on
 * the code rather than the wording. test/errors.test.ts fails when a code used in daemon/
 * is missing here, or one declared here is used nowhere.
 */
export const ERRORS = {
  LF_CONFIG_SYNTAX: { status: 500 },
  LF_CONFIG_UNKNOWN_KEY: { status: 500 },
  LF_CONFIG_MISSING_KEY: { status: 500 },
  LF_CONFIG_BAD_VALUE: { status: 500 },
  LF_CLI_USAGE: { status: 500 },
  LF_AVRO_FRAME: { status: 500 },
  LF_AVRO_HANDSHAKE: { status: 500 },
  LF_AVRO_MESSAGE: { status: 500 },
  LF_AVRO_REMOTE: { status: 500 },
  LF_AVRO_TIMEOUT: { status: 500 },
  LF_AVRO_CLOSED: { status: 500 },
  LF_CHANNEL_FULL: { status: 500 },
  /** A put or take on a channel that was closed (a stop racing a source or sink). */
  LF_CHANNEL_CLOSED: { status: 500 },
  LF_CHECKPOINT_CORRUPT: { status: 500 },
  LF_CHECKPOINT_INCOMPATIBLE: { status: 500 },
  LF_LOCKED: { status: 500 },
  /** The results database cannot be opened (the message names the file). */
  LF_DATABASE: { status: 500 },
  /** A worker thread (job or HTTP) failed or ended with no declared error of its own. */
  LF_THREAD_FAILED: { status: 500 },
  LF_HTTP_BAD_PARAMETER: { status: 400 },
  LF_HTTP_UNAUTHORIZED: { status: 401 },
  LF_HTTP_NOT_FOUND: { status: 404 },
  LF_HTTP_NO_JOB: { status: 404 },
  LF_HTTP_TOO_MANY_STREAMS: { status: 503 },
  /** A request that failed inside: answered 500, details only in the log. */
  LF_HTTP_ERROR: { status: 500 },
} as const satisfies Record<string, { readonly status: number }>;

export type ErrorCode = keyof typeof ERRORS;

export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}

/** The HTTP status an error code is answered with. */
export function httpStatusOf(code: ErrorCode): number {
  return ERRORS[code].status;
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
