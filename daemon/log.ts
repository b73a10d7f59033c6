import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * One JSON line per event on stdout; readable colored lines instead when stdout is a
 * terminal (pino-pretty, in a worker thread so it costs the pipeline nothing).
 * LOGFLOW_LOG_LEVEL sets the level; LOGFLOW_LOG_FORMAT=json forces JSON on a terminal.
 */
export function createLogger(name: string): Logger {
  const pretty = process.stdout.isTTY && process.env.LOGFLOW_LOG_FORMAT !== 'json';
  return pino({
    name,
    level: process.env.LOGFLOW_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(pretty && { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,name' } } }),
  });
}
