import type { UrlWindowJobConfig } from '../conf/index.js';
import type { JobStartOptions, JobStats } from './url-window-job.js';

/** What the job's worker thread is started with. */
export interface JobWorkerData {
  readonly config: UrlWindowJobConfig;
  readonly options: JobStartOptions;
  readonly localSources: readonly string[];
}

/** Worker -> host. */
export type JobEvent =
  | { readonly type: 'started'; readonly port: number; readonly committed: [string, number][]; readonly stats: JobStats }
  | { readonly type: 'failed'; readonly message: string; readonly code: string | undefined }
  | { readonly type: 'committed'; readonly committed: [string, number][]; readonly parseErrors: [string, number][]; readonly stats: JobStats }
  | { readonly type: 'stats'; readonly stats: JobStats }
  | { readonly type: 'stopped'; readonly committed: [string, number][]; readonly parseErrors: [string, number][] };

/** Host -> worker. */
export type JobCommand = { readonly type: 'forget'; readonly key: string } | { readonly type: 'stop' };
