import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { batchFromLines, MemoryChannel } from '../daemon/channel/index.js';
import { AvroRpcServer } from '../daemon/avro/index.js';
import { renderMetrics } from '../daemon/telemetry/prometheus.js';
import { apiStats, type Stats } from '../daemon/telemetry/stats.js';
import { AvroSink } from '../daemon/sink/index.js';
import { freePort, waitFor } from './helpers/daemon.js';
import { NATS_SERVER, skipWithoutNats } from './helpers/nats-cluster.js';
import { gatherStats } from '../daemon/agent-stats.js';
import { parseAgentConfig } from '../daemon/agent-config.js';
import { ofType } from '../daemon/components.js';
import { JetStreamSink } from '../daemon/sink/jetstream/jetstream-sink.js';
import { testLogger } from './helpers/logger.js';
import { runSource } from './helpers/spool-source.js';

const NOTHING: Stats = {
  eventsRead: 0, eventsIn: 0, eventsCounted: 0, parseErrors: 0, duplicates: 0, historyOnlyEvents: 0,
  channel: { size: 0, capacity: 0, waitingPuts: 0 }, files: { pending: 0, inProgress: 0, completed: 0, failed: 0 },
};

test('a delivery the receiver answers FAILED is retried, and counted in /metrics with its reason', async (t) => {
  let calls = 0;
  const server = new AvroRpcServer({ bind: '127.0.0.1', port: 0, logger: testLogger }, () => (calls++ === 0 ? 'FAILED' : 'OK'));
  await server.listen();
  t.after(() => server.close());
  const channel = new MemoryChannel({ name: 'c1', type: 'memory', capacity: 100, transactionCapacity: 10 });
  const sink = new AvroSink({ name: 'k1', type: 'avro', channel: 'c1', hostname: '127.0.0.1', port: server.port, batchSize: 10, connectTimeout: 5000, requestTimeout: 5000 }, channel, testLogger);
  sink.start();
  t.after(() => sink.stop());
  await channel.put(batchFromLines(['one line']));
  await waitFor('the retried delivery', () => (sink.eventsSent === 1 ? true : undefined));
  assert.deepEqual(sink.retries, { error: 0, refused: 1 });
  const metrics = renderMetrics({ ...NOTHING, sinkRetries: sink.retries });
  assert.match(metrics, /^logflow_sink_retries_total\{reason="refused"\} 1$/m);
  assert.match(metrics, /^logflow_sink_retries_total\{reason="error"\} 0$/m);
});

test('lines cut at maxLineLength are counted for /metrics', async (t) => {
  const { spool, source, events } = await runSource(t, 'a1.sources.r1.maxLineLength = 10\n');
  writeFileSync(path.join(spool, '.a.log'), `short\n${'x'.repeat(50)}\nalso short\n${'y'.repeat(11)}\n`);
  renameSync(path.join(spool, '.a.log'), path.join(spool, 'a.log'));
  await waitFor('the four lines', () => (events.length === 4 ? true : undefined));
  assert.equal(source.truncatedLines, 2);
  assert.match(renderMetrics({ ...NOTHING, truncatedLines: source.truncatedLines }), /^logflow_truncated_lines_total 2$/m);
});

test('/metrics keeps every series name and type; /api/stats leaves out only the figures for /metrics', () => {
  const h = { buckets: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], count: 0, sumMs: 0 };
  const full: Stats = {
    ...NOTHING, window: { distinctUrls: 3, lastSlideMs: 1, maxSlideMs: 2 }, resultsWaiting: 0,
    receiver: { refusedConnections: { ipFilter: 0, maxConnections: 0 } }, avroRefusedConnections: { ipFilter: 0, maxConnections: 0 }, checkpoint: { seq: 1, ageMs: null, lastWriteMs: 1, failedAttempts: 0 },
    truncatedLines: 0, sinkRetries: { error: 0, refused: 0 }, avroCallsRefused: { transactionCapacity: 0, channel: 0 },
    slideSeconds: h, checkpointSeconds: h,
  };
  const types = [...renderMetrics(full).matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual(types, [
    'logflow_events_read_total counter', 'logflow_events_in_total counter', 'logflow_events_counted_total counter',
    'logflow_parse_errors_total counter', 'logflow_duplicate_events_total counter', 'logflow_history_only_events_total counter',
    'logflow_channel_events gauge', 'logflow_channel_capacity_events gauge', 'logflow_files gauge', 'logflow_window_urls gauge',
    'logflow_results_waiting gauge', 'logflow_avro_refused_connections_total counter', 'logflow_truncated_lines_total counter',
    'logflow_sink_retries_total counter', 'logflow_avro_refused_calls_total counter',
    'logflow_batch_processing_seconds histogram', 'logflow_checkpoint_seconds histogram',
  ]);
  assert.match(renderMetrics(full), /^logflow_files\{state="reading"\} 0$/m);
  assert.match(renderMetrics(full), /^logflow_window_urls 3$/m);
  // Without a job, spool sources, sinks or avro sources, their series are left out.
  assert.doesNotMatch(renderMetrics(NOTHING), /refused|truncated|retries|_seconds/);
  assert.deepEqual(Object.keys(apiStats(full)).sort(), ['channel', 'checkpoint', 'duplicates', 'eventsCounted', 'eventsIn', 'files', 'historyOnlyEvents', 'parseErrors', 'receiver', 'resultsWaiting', 'window']);
});

test('a JetStream publish that fails is retried and counted in /metrics with its reason', { skip: skipWithoutNats }, async () => {
  // A real nats-server without JetStream: the sink's stream check fails, every time.
  const port = await freePort();
  const server = spawn(NATS_SERVER!, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const channel = new MemoryChannel({ name: 'c1', type: 'memory', capacity: 100, transactionCapacity: 10 });
  const config = ofType(parseAgentConfig(
    `a1.channels = c1\na1.sinks = k1\na1.channels.c1.type = memory\na1.sinks.k1.type = jetstream\na1.sinks.k1.channel = c1\na1.sinks.k1.servers = nats://127.0.0.1:${port}\na1.sinks.k1.stream = S\na1.sinks.k1.partitions = 1\na1.sinks.k1.batch-size = 10\n`,
    'test.conf',
    'a1',
  ).sinks, 'jetstream')[0]!;
  const sink = new JetStreamSink(config, channel, testLogger);
  sink.start();
  try {
    await channel.put(batchFromLines(['one line']));
    await waitFor('two retried publishes', () => (sink.retries.error >= 2 ? true : undefined));
    assert.equal(sink.retries.refused, 0);
    assert.equal(sink.eventsSent, 0, 'nothing is committed while the stream cannot be checked');
    assert.equal(channel.size, 1);
    const metrics = renderMetrics(gatherStats([sink.stats()]));
    assert.match(metrics, /^logflow_sink_retries_total\{reason="error"\} [2-9]\d*$/m);
  } finally {
    // Stopped while the server runs: a connection waiting for a first server cannot be cancelled.
    await sink.stop(100);
    server.kill();
  }
});
