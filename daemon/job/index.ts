export { UrlWindowJob, type JobStartOptions } from './url-window-job.js';
export type { JobStats } from './job-stats.js';
export { CheckpointStore } from './checkpoint-store.js';
export { JobHost } from './job-host.js';
export type { JobResults } from './url-window-config.js';
