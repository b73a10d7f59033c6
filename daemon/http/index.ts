// The main thread's side of the room: the server itself (Fastify, the OpenAPI document, the
// dashboard) runs in the HTTP thread (http-worker.ts, server.ts) and is loaded there alone,
// so that the main thread does not spend a tenth of a second of CPU at start loading it.
export type { FileView, HttpDeps, JobTiming } from './deps.js';
export { HttpHost, type PipelineView } from './http-host.js';
