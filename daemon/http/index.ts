export { buildHttpServer, startHttpServer, type HttpDeps, type PipelineStats } from './server.js';
