/** Log levels an event can be declared at. */
export type Level = 'fatal' | 'error' | 'warn' | 'info' | 'debug';

/** The part of a pino (or Fastify) logger an event writes to. */
export type EventLogger = Record<Level, (fields: object, message: string) => void>;

/**
 * A typed internal event (Vector's internal_events style): declared once in
 * telemetry/events.ts with its level and its log line, it writes that line with its typed
 * fields and counts its occurrences (`count`, per thread). Emitting costs what the log call
 * did before: events are per file, per batch or per error, never per line.
 */
export class LogEvent<F extends object> {
  readonly level: Level;
  readonly #message: string | ((fields: F) => string);
  #count = 0;

  constructor(level: Level, message: string | ((fields: F) => string)) {
    this.level = level;
    this.#message = message;
  }

  emit(log: EventLogger, fields: F): void {
    this.emitAt(log, this.level, fields);
  }

  /** At another level than declared (a repeat of a failure logged at debug, say). */
  emitAt(log: EventLogger, level: Level, fields: F): void {
    this.#count++;
    log[level](fields, typeof this.#message === 'string' ? this.#message : this.#message(fields));
  }

  /** Occurrences in this thread so far. */
  get count(): number {
    return this.#count;
  }
}

/** Declares an event: its fields' type, its level and its log line (or a function of the fields). */
export function logEvent<F extends object = Record<never, never>>(level: Level, message: string | ((fields: F) => string)): LogEvent<F> {
  return new LogEvent<F>(level, message);
}
