export { UrlWindowJob, type JobStartOptions, type JobStats } from './url-window-job.js';
export { CheckpointStore } from './checkpoint-store.js';
export { findUrl, urlOf, type UrlRange } from './access-log.js';
export { BatchCounts, SlidingWindow, type SlotCounts } from './sliding-window.js';
export { UrlInterner } from './url-interner.js';
export { topK, compareUrlCounts, type UrlCount } from './top-k.js';
export type { BatchResult, WindowResult, WindowResultSink } from './window-results.js';
export { JobHost } from './job-host.js';
export { compileUrlParser, NAMED_FORMATS, type UrlParser } from './log-format.js';
