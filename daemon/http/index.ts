export { buildHttpServer, startHttpServer } from './server.js';
export type { FileView, HttpDeps, JobTiming } from './deps.js';
export { HttpHost, type PipelineView } from './http-host.js';
