import type { ThreadFailure } from '../errors.js';
import type { HttpConfig } from './config.js';
import type { JobTiming } from './deps.js';

/** What the HTTP thread is started with. */
export interface HttpWorkerData {
  readonly config: HttpConfig;
  /** The job's results database (opened read-only in the HTTP thread), when a job runs. */
  readonly database: string | undefined;
  readonly job: JobTiming | undefined;
}

/** The pipeline's live figures the HTTP thread asks the main thread for (`top` with its query). */
export type PipelineQuestion = 'stats' | 'files' | 'metrics' | 'top';

/** HTTP thread -> main thread. */
export type HttpEvent =
  | { readonly type: 'loaded' }
  | { readonly type: 'listening'; readonly address: string; readonly threadId: number | undefined }
  | ({ readonly type: 'failed' } & ThreadFailure)
  | { readonly type: 'ask'; readonly id: number; readonly what: PipelineQuestion; readonly args?: unknown }
  | { readonly type: 'closed' };

/** Main thread -> HTTP thread. */
export type HttpCommand =
  | { readonly type: 'answer'; readonly id: number; readonly value: unknown; readonly error?: string }
  | { readonly type: 'listen' }
  | { readonly type: 'close' };
