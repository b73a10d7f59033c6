export { buildHttpServer, startHttpServer } from './server.js';
export type { FileView, HttpDeps, JobTiming, PipelineStats } from './deps.js';
export { HttpHost, type PipelineView } from './http-host.js';
export { renderMetrics, type MetricsInput } from './metrics.js';
