import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { parseAgentConfig } from '../daemon/agent-config.js';
import { UrlWindowJob } from '../daemon/job/index.js';
import type { PartialCounts } from '../daemon/cluster/partial-counts.js';
import { ResultsStore } from '../daemon/store/index.js';
import { tempDir } from './helpers/daemon.js';
import { testLogger } from './helpers/logger.js';
import { ofType } from '../daemon/components.js';

const START = Date.UTC(2026, 0, 1, 0, 0, 0);

function partial(from: number, fields: Partial<PartialCounts>): PartialCounts {
  return { partition: 0, from, to: from, batchMs: 1000, events: 0, maxEventMs: null, unplacedErrors: 0, slots: [], ...fields };
}

test('a query node: lines without a time that come before any placed line are counted once a batch is placed', async () => {
  const dir = tempDir();
  const config = ofType(parseAgentConfig(
    'a1.jobs = j1\na1.jobs.j1.type = url-window-count\na1.jobs.j1.port = 0\na1.jobs.j1.time = event\na1.jobs.j1.watermark = 0\n' +
      'a1.jobs.j1.checkpointDir = checkpoint\na1.jobs.j1.database = results.db\n',
    'agent.conf',
    'a1',
    dir,
  ).jobs, 'url-window-count')[0]!;
  const store = new ResultsStore(path.join(dir, 'results.db'));
  const job = new UrlWindowJob(config, store, testLogger);
  await job.start();
  try {
    // A counter's first partial holds only lines without a time: no batch to put them in yet.
    job.applyPartial('p0', 1, partial(1, { events: 7, unplacedErrors: 7 }));
    // Then lines with times, the second one far enough on to close the first's batches.
    job.applyPartial('p0', 2, partial(2, { events: 3, maxEventMs: START + 2000, slots: [{ slot: START / 1000, parseErrors: 0, urls: [['/a', 2], ['/b', 1]] }] }));
    job.applyPartial('p0', 3, partial(3, { events: 1, maxEventMs: START + 600_000, slots: [{ slot: START / 1000 + 600, parseErrors: 0, urls: [['/c', 1]] }] }));
  } finally {
    await job.stop();
    store.close();
  }
  const stats = job.stats();
  assert.equal(stats.eventsIn, 11);
  assert.equal(stats.eventsCounted, 3, 'the first batches closed (the newest, at the watermark, stays open)');
  assert.equal(stats.parseErrors, 7, 'the lines without a time, counted with the first batch');
});
