import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../log.js';
import { threadId } from '../thread-priority.js';
import { ResultsReader } from '../store/index.js';
import type { HttpCommand, HttpEvent, HttpWorkerData, PipelineQuestion } from './http-messages.js';
import { startHttpServer } from './server.js';

/**
 * The HTTP server in its own thread: queries read SQLite here and never wait behind the
 * pipeline's work on the main thread. Figures only the pipeline has (files, channel,
 * counters) are asked of the main thread per request.
 */
const data = workerData as HttpWorkerData;
const port = parentPort!;
const post = (event: HttpEvent) => port.postMessage(event);
const log = createLogger('logflow');
const results = data.database === undefined ? undefined : new ResultsReader(data.database);

const pending = new Map<number, (value: unknown) => void>();
let nextId = 0;
function ask<T>(what: PipelineQuestion): Promise<T> {
  const id = nextId++;
  return new Promise<T>((resolve) => {
    pending.set(id, resolve as (value: unknown) => void);
    post({ type: 'ask', id, what });
  });
}

const app = await startHttpServer(data.config, {
  authToken: data.config.authToken,
  results,
  job: data.job,
  stats: () => ask('stats'),
  files: () => ask('files'),
  metrics: () => ask('metrics'),
  logger: log,
}).catch((err: Error & { code?: string }) => {
  results?.close();
  post({ type: 'failed', message: err.message, code: err.code });
  port.close();
  return undefined;
});

if (app) {
  const a = app.server.address();
  post({ type: 'listening', address: a && typeof a === 'object' ? `http://${a.address}:${a.port}` : String(a), threadId: threadId() });
  port.on('message', (cmd: HttpCommand) => {
    if (cmd.type === 'answer') {
      pending.get(cmd.id)?.(cmd.value);
      pending.delete(cmd.id);
    } else if (cmd.type === 'close') {
      void app.close().finally(() => {
        results?.close();
        post({ type: 'closed' });
        port.close();
      });
    }
  });
}
