import { parentPort, workerData } from 'node:worker_threads';
import { runHistoryQuery, type HistoryQuery } from '../store/history-queries.js';
import { ResultsReader } from '../store/index.js';
import { lowerThreadPriority } from '../thread-priority.js';
import type { QueryThreadData, QueryThreadEvent } from './query-pool.js';

/**
 * A query thread: its own read-only connection to the results database, one range query
 * at a time. It runs below the HTTP thread's priority (as the pipeline does), so on a busy
 * box the HTTP thread's own answers come first.
 */
const data = workerData as QueryThreadData;
const port = parentPort!;
const post = (event: QueryThreadEvent) => port.postMessage(event);

let results: ResultsReader;
try {
  results = new ResultsReader(data.database, data.batchIntervalMs);
  lowerThreadPriority(data.nice);
  post({ type: 'ready' });
} catch (err) {
  post({ type: 'failed', error: (err as Error).message });
  port.close();
}

port.on('message', (msg: { id: number; query: HistoryQuery }) => {
  try {
    post({ type: 'answer', id: msg.id, value: runHistoryQuery(results, msg.query) });
  } catch (err) {
    post({ type: 'answer', id: msg.id, error: (err as Error).message });
  }
});
