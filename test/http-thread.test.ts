import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HttpHost, type FileView } from '../daemon/http/index.js';
import type { ApiStats, Stats } from '../daemon/telemetry/stats.js';
import { testLogger } from './helpers/logger.js';

const stats: ApiStats = {
  eventsIn: 7, eventsCounted: 5, parseErrors: 2, duplicates: 0, historyOnlyEvents: 0,
  files: { pending: 0, inProgress: 0, completed: 1, failed: 0 },
};

describe('the HTTP server in its own thread', () => {
  test('answers with the main thread\'s figures; a figure that throws is a 500, the next request is served', async () => {
    let failFiles = true;
    const host = new HttpHost({ bind: '127.0.0.1', port: 0, authToken: undefined, allowedHosts: ['127.0.0.1'], pipelineNice: 0, maxConnections: 1000, queryThreads: 1 }, undefined, {
      stats: () => stats,
      top: () => Promise.reject(new Error('no job')),
      files: (): FileView[] => {
        if (failFiles) throw new Error('registry unavailable');
        return [];
      },
      followed: () => [],
      metrics: () => ({ eventsRead: 7, eventsIn: 7, eventsCounted: 5, parseErrors: 2, duplicates: 0, historyOnlyEvents: 0, channel: { size: 0, capacity: 10, waitingPuts: 0 }, files: stats.files }) satisfies Stats,
    }, testLogger);
    await host.load();
    await host.listen();
    try {
      const url = host.address!;
      assert.deepEqual(await (await fetch(`${url}/api/stats`)).json(), { ...stats, http: { connections: 1, refusedConnections: 0 } });
      const failed = await fetch(`${url}/api/files`, { signal: AbortSignal.timeout(3000) });
      assert.equal(failed.status, 500, 'an error answer, not a hang');
      failFiles = false;
      assert.deepEqual(await (await fetch(`${url}/api/files`)).json(), { files: [] });
      assert.match(await (await fetch(`${url}/metrics`)).text(), /^logflow_events_counted_total 5$/m);
      const noJob = await fetch(`${url}/api/top`);
      assert.equal(noJob.status, 404, 'an agent without a job has no results routes');
    } finally {
      await host.close();
    }
  });
});
