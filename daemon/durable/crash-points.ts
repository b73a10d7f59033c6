import { LogflowError } from '../errors.js';

/**
 * Named places between two durable steps, where a crash must lose nothing and count nothing
 * twice. With `LOGFLOW_CRASH_AT=<name>` (or `<name>:<n>`, the n-th time) in its environment
 * the daemon kills itself with SIGKILL when it gets there, so a test puts a real kill -9
 * exactly in each window instead of hoping a random one lands there (RocksDB's kill points
 * and FoundationDB's buggify do the same). Unset, a crash point is one comparison.
 */
export const CRASH_POINTS = [
  /** The job wrote a checkpoint's segment, not yet its manifest. */
  'checkpoint.segment-written',
  /** The job's new manifest is in place (a file may be counted in it, its record not yet written); the WAL segments it covers are not yet deleted. */
  'checkpoint.manifest-written',
  /** Its record is written (files.db); it is not yet renamed `.COMPLETED` (or deleted). */
  'finish.recorded',
  /** It is renamed (or deleted); its position is not yet forgotten by a checkpoint. */
  'finish.renamed',
  /** A duplicate's record is written; it is not yet renamed `.DUPLICATE`. */
  'duplicate.recorded',
] as const;

export type CrashPoint = (typeof CRASH_POINTS)[number];

const [armed, armedCount] = process.env.LOGFLOW_CRASH_AT ? process.env.LOGFLOW_CRASH_AT.split(':') : [];
// A misspelt point would make a crash test pass without crashing.
if (armed !== undefined && !(CRASH_POINTS as readonly string[]).includes(armed)) {
  throw new LogflowError('LF_CONFIG_BAD_VALUE', `LOGFLOW_CRASH_AT=${process.env.LOGFLOW_CRASH_AT}: no such crash point (${CRASH_POINTS.join(', ')})`);
}
let hitsLeft = Number(armedCount ?? 1) || 1;

/** Kills the process here with SIGKILL if `LOGFLOW_CRASH_AT` names this point (and this is its n-th time). */
export function crashPoint(name: CrashPoint): void {
  if (armed !== name || --hitsLeft > 0) return;
  process.kill(process.pid, 'SIGKILL');
}
