import { pino } from 'pino';

/** A real pino logger that keeps test output quiet unless LOGFLOW_TEST_LOG is set. */
export const testLogger = pino({ level: process.env.LOGFLOW_TEST_LOG ?? 'silent' });
