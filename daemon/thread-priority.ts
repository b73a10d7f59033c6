import { readlinkSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/**
 * Lowers the calling thread's scheduling priority by `increment` (a nice increment) and
 * returns the nice value it now has, or undefined where threads cannot be told apart.
 *
 * Why: on two cores the pipeline's threads keep both busy during an ingest, and the HTTP
 * thread then waits its turn behind them (a query p99 of 20-30 ms measured). Linux
 * schedules threads, not processes, and `setpriority(PRIO_PROCESS, tid)` applies to one
 * thread only, so the reading and counting threads can yield to the query thread without
 * slowing an idle box down. An unprivileged process can lower a priority, never raise it,
 * so the pipeline steps down rather than the HTTP thread up.
 */
export function lowerThreadPriority(increment: number): number | undefined {
  if (increment <= 0 || process.platform !== 'linux') return undefined;
  const tid = threadId();
  if (tid === undefined) return undefined;
  try {
    const nice = Math.min(19, getPriority(tid) + increment);
    setPriority(tid, nice);
    return nice;
  } catch {
    return undefined;
  }
}

/** The kernel's id of the calling thread: /proc/thread-self links to `<pid>/task/<tid>`. */
export function threadId(): number | undefined {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}
