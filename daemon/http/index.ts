export { buildHttpServer, startHttpServer, type FileView, type HttpDeps, type PipelineStats } from './server.js';
export { HttpHost, type PipelineView } from './http-host.js';
export { renderMetrics, type MetricsInput } from './metrics.js';
