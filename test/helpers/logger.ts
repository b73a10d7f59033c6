import { Writable } from 'node:stream';
import { pino } from 'pino';

/** A real pino logger that keeps test output quiet unless LOGFLOW_TEST_LOG is set. */
export const testLogger = pino({ level: process.env.LOGFLOW_TEST_LOG ?? 'silent' });

/** A pino logger whose lines (JSON text, one per entry) the test can read. */
export function capturingLogger() {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write(chunk, _enc, cb) { lines.push(String(chunk)); cb(); } }));
  return { logger, lines };
}
