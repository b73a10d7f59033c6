import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * One JSON line per event on stdout. LOGFLOW_LOG_LEVEL overrides the level (tests use
 * `warn` to keep their output readable).
 */
export function createLogger(name: string): Logger {
  return pino({
    name,
    level: process.env.LOGFLOW_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
