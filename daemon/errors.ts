/**
 * Every error the daemon raises on purpose is declared here once, with a stable code, so
 * logs, HTTP answers and tests can rely on the code rather than the wording.
 */
export const ERROR_CODES = [
  'LF_CONFIG_SYNTAX',
  'LF_CONFIG_UNKNOWN_KEY',
  'LF_CONFIG_MISSING_KEY',
  'LF_CONFIG_BAD_VALUE',
  'LF_CLI_USAGE',
  'LF_AVRO_FRAME',
  'LF_AVRO_HANDSHAKE',
  'LF_AVRO_MESSAGE',
  'LF_AVRO_REMOTE',
  'LF_AVRO_TIMEOUT',
  'LF_AVRO_CLOSED',
  'LF_CHANNEL_FULL',
  'LF_SOURCE_FILE',
  'LF_CHECKPOINT_CORRUPT',
  'LF_CHECKPOINT_INCOMPATIBLE',
  'LF_LOCKED',
  /** A valid setting that cannot be used as it is (a port in use, a directory not writable): names the key. */
  'LF_CONFIG_UNUSABLE',
] as const;

/**
 * Every code the HTTP API answers with, and its status: the one place where an error
 * becomes a status. `error` is the status's reason phrase, sent as the body's `error`.
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
  LF_HTTP_INTERNAL: { status: 500, error: 'Internal Server Error' },
  LF_HTTP_TOO_MANY_STREAMS: { status: 503, error: 'Service Unavailable' },
} as const satisfies Record<string, { status: number; error: string }>;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

export type ErrorCode = (typeof ERROR_CODES)[number] | HttpErrorCode;

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
