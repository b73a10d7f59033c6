import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { batchFromLines, MemoryChannel } from '../daemon/channel/index.js';
import { AvroRpcServer, type DecodedEvents } from '../daemon/avro/index.js';
import { AvroSink } from '../daemon/sink/index.js';
import { testLogger } from './helpers/logger.js';
import { PEER, PYTHON, runPython, servePeer, skipPython } from './helpers/python.js';

/** Debian's python3-avro installs for the system Python; CI installs it (.ci/run). */
const skip = skipPython;


describe('interop with Apache Avro\'s Python implementation', () => {
  test('a Python avro.ipc Requestor sends append and appendBatch to our receiver', { skip }, async () => {
    const bodies: string[] = [];
    const ids: string[] = [];
    const server = new AvroRpcServer({ bind: '127.0.0.1', port: 0, logger: testLogger }, (ev: DecodedEvents) => {
      for (let i = 0; i < ev.count; i++) {
        bodies.push(ev.data.toString('utf8', ev.starts[i], ev.ends[i]));
        if (ev.idStarts[i] !== -1) ids.push(ev.data.toString('utf8', ev.idStarts[i], ev.idEnds[i]));
      }
      return 'OK';
    });
    const port = await server.listen();
    try {
      // Asynchronously: the receiver runs in this process's event loop.
      const run = await runPython([PEER, 'send', String(port), '3', '500']);
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(run.stdout.trim().split('\n'), ['OK', 'OK', 'OK', 'OK']);
      assert.equal(bodies.length, 1 + 3 * 500);
      assert.match(bodies[0]!, /GET \/python\/append /);
      assert.match(bodies[1]!, /GET \/python\/0 /);
      assert.equal(ids[0], 'py-0-0');
      assert.equal(new Set(ids).size, 1500);
    } finally {
      await server.close();
    }
  });

  test('our sink delivers to a Python avro.ipc Responder, many calls on one connection', { skip }, async () => {
    const count = 2500;
    const peer = await servePeer(count);
    const { port, exited } = peer;
    const channel = new MemoryChannel({ name: 'c1', type: 'memory', capacity: 10_000, transactionCapacity: 500 });
    const sink = new AvroSink(
      { name: 'k1', type: 'avro', channel: 'c1', hostname: '127.0.0.1', port, batchSize: 500, connectTimeout: 2000, requestTimeout: 10_000 },
      channel,
      testLogger,
    );
    sink.start();
    for (let b = 0; b < count / 250; b++) {
      await channel.put({ ...batchFromLines(Array.from({ length: 250 }, (_, i) => `line ${b * 250 + i} ünï`), { file: '/spool/x.log' }), firstHeaders: { 'lf.pos': `k:${b}:250` } });
    }
    assert.equal(await exited, 0, peer.stderr());
    await sink.stop(100);
    const events = peer.stdout().trim().split('\n').slice(1).map((l) => JSON.parse(l) as { headers: Record<string, string>; body: string });
    assert.equal(events.length, count);
    assert.deepEqual(events.map((e) => e.body), Array.from({ length: count }, (_, i) => `line ${i} ünï`));
    assert.equal(events[0]!.headers.file, '/spool/x.log');
    assert.equal(events[0]!.headers['lf.pos'], 'k:0:250');
    assert.equal(events[1]!.headers['lf.pos'], undefined);
  });
});
