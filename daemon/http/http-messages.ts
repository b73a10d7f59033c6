import type { JobResults } from '../job/url-window-config.js';
import type { DataShape } from '../worker-host.js';
import type { HttpConfig } from './config.js';

/** What the HTTP thread is started with. */
export interface HttpWorkerData {
  readonly config: HttpConfig;
  /** The job's results (its database, opened read-only in the HTTP thread, and their timing), when a job runs. */
  readonly results: JobResults | undefined;
}

/** What http-worker.ts checks its data against (worker-host.ts). */
export const HTTP_WORKER_DATA: DataShape<HttpWorkerData> = { config: 'object', results: 'object?' };

/** The pipeline's live figures the HTTP thread asks the main thread for (`top` with its query). */
export type PipelineQuestion = 'stats' | 'files' | 'followed' | 'metrics' | 'top';

/** HTTP thread -> main thread (and a failure, worker-host.ts). */
export type HttpEvent =
  | { readonly type: 'loaded' }
  | { readonly type: 'listening'; readonly address: string; readonly threadId: number | undefined }
  | { readonly type: 'ask'; readonly id: number; readonly what: PipelineQuestion; readonly args?: unknown }
  | { readonly type: 'closed' };

/** Main thread -> HTTP thread. */
export type HttpCommand =
  | { readonly type: 'answer'; readonly id: number; readonly value: unknown; readonly error?: string }
  | { readonly type: 'listen' }
  | { readonly type: 'close' };
