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
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

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
