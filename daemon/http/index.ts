export { buildHttpServer, startHttpServer, type FileView, type HttpDeps, type PipelineStats } from './server.js';
export { renderMetrics, type MetricsInput } from './metrics.js';
