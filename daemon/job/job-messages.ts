import type { UrlWindowJobConfig } from './url-window-config.js';
import type { DataShape } from '../worker-host.js';
import type { JobStartOptions } from './url-window-job.js';
import type { JobStats } from './job-stats.js';
import type { LiveTop, LiveTopQuery } from './live-top.js';
import type { FileFigures } from './counted-positions.js';

/** What the job's worker thread is started with. */
export interface JobWorkerData {
  readonly config: UrlWindowJobConfig;
  readonly options: JobStartOptions;
  readonly localSources: readonly string[];
  /** Live counters the job writes and the host reads without waiting for a message. */
  readonly counters: SharedArrayBuffer;
  /** A nice increment for the job's thread, so queries on the HTTP thread come first. */
  readonly nice: number;
}

/** What job-worker.ts checks its data against (worker-host.ts). */
export const JOB_WORKER_DATA: DataShape<JobWorkerData> = { config: 'object', options: 'object', localSources: 'array', counters: 'SharedArrayBuffer', nice: 'number' };

/** Slots of the shared counters (a Float64Array over `JobWorkerData.counters`). */
export const COUNTER = { eventsIn: 0, eventsCounted: 1, parseErrors: 2, duplicates: 3 } as const;
export const COUNTER_SLOTS = 4;

/** Worker -> host (and a failure, worker-host.ts). */
export type JobEvent =
  | { readonly type: 'started'; readonly port: number; readonly committed: [string, number][]; readonly files: [string, FileFigures][]; readonly stats: JobStats }
  | { readonly type: 'committed'; readonly committed: [string, number][]; readonly files: [string, FileFigures][]; readonly forgets: number; readonly stats: JobStats }
  | { readonly type: 'stats'; readonly stats: JobStats }
  | { readonly type: 'stopped'; readonly committed: [string, number][]; readonly files: [string, FileFigures][]; readonly forgets: number }
  | { readonly type: 'top'; readonly id: number; readonly answer: LiveTop | undefined; readonly error?: string };

/** Host -> worker. `forget`s are counted by both sides, in order (see JobHost.forget). */
export type JobCommand =
  | { readonly type: 'forget'; readonly key: string }
  | { readonly type: 'stop' }
  | { readonly type: 'top'; readonly id: number; readonly query: LiveTopQuery };
