import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { batchFromLines, MemoryChannel } from '../daemon/channel/index.js';
import { AvroRpcServer, type DecodedEvents } from '../daemon/avro/index.js';
import { AvroSink } from '../daemon/sink/index.js';
import { freePort, waitFor } from './helpers/daemon.js';
import { testLogger } from './helpers/logger.js';

/**
 * Until everything that can run has run: a memory channel's put does no I/O, so a put that
 * does not wait has resolved by then (a wait on state, not on the clock).
 */
const settled = () => new Promise((r) => setImmediate(r));

const channelConfig = (capacity: number, transactionCapacity: number) =>
  ({ name: 'c1', type: 'memory', capacity, transactionCapacity }) as const;

describe('memory channel', () => {
  test('a put waits while the channel is full, and goes on once a take is committed', async () => {
    const ch = new MemoryChannel(channelConfig(3, 2));
    await ch.put(batchFromLines(['a', 'b']));
    let secondDone = false;
    const second = ch.put(batchFromLines(['c', 'd'])).then(() => (secondDone = true));
    await settled();
    assert.equal(secondDone, false, 'the put waits: 2 + 2 > capacity 3');
    const taken = ch.take(10);
    await settled();
    assert.equal(secondDone, false, 'taken events keep their room until committed');
    ch.commit(taken);
    await second;
    assert.equal(ch.size, 2);
  });

  test('take returns whole batches up to the limit, at least one', async () => {
    const ch = new MemoryChannel(channelConfig(100, 10));
    for (const n of [3, 3, 3]) await ch.put(batchFromLines(Array.from({ length: n }, (_, i) => String(i))));
    assert.deepEqual(ch.take(7).map((b) => b.count), [3, 3]);
    assert.deepEqual(ch.take(1).map((b) => b.count), [3]);
    assert.deepEqual(ch.take(5), []);
  });

  test('a put larger than transactionCapacity is refused', async () => {
    const ch = new MemoryChannel(channelConfig(100, 2));
    await assert.rejects(ch.put(batchFromLines(['a', 'b', 'c'])), /transactionCapacity/);
  });
});

describe('avro sink', () => {
  const cleanup: (() => unknown)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  test('retries with backoff until the receiver is up, then delivers everything once', async () => {
    const port = await freePort();
    const ch = new MemoryChannel(channelConfig(1000, 100));
    const sink = new AvroSink(
      { name: 'k1', type: 'avro', channel: 'c1', hostname: '127.0.0.1', port, batchSize: 100, connectTimeout: 500, requestTimeout: 1000 },
      ch,
      testLogger,
    );
    sink.start();
    const delivered: string[] = [];
    for (let b = 0; b < 5; b++) {
      await ch.put({ ...batchFromLines(Array.from({ length: 50 }, (_, i) => `${b}:${i}`)), onDelivered: () => delivered.push(`batch ${b}`) });
    }
    await waitFor('two failed attempts: nobody listens', () => (sink.retries.error >= 2 ? true : undefined));
    assert.equal(delivered.length, 0);
    assert.equal(ch.size, 250, 'nothing left the channel');

    const received: string[] = [];
    let answer: 'FAILED' | 'OK' = 'FAILED';
    const server = new AvroRpcServer({ bind: '127.0.0.1', port, logger: testLogger }, (ev: DecodedEvents) => {
      if (answer === 'FAILED') {
        answer = 'OK'; // the first call is refused: the sink must resend the same events
        return 'FAILED';
      }
      for (let i = 0; i < ev.count; i++) received.push(ev.data.toString('utf8', ev.starts[i], ev.ends[i]));
      return 'OK';
    });
    await server.listen();
    cleanup.push(() => server.close());
    await waitFor('the five batches delivered', () => delivered.length >= 5 || undefined, 10_000).catch(() => undefined);
    // Calls are pipelined: the refused first batch is resent after the others.
    assert.deepEqual([...delivered].sort(), ['batch 0', 'batch 1', 'batch 2', 'batch 3', 'batch 4']);
    assert.equal(received.length, 250);
    assert.equal(new Set(received).size, 250, 'no event twice');
    assert.deepEqual(received.filter((r) => r.startsWith('0:')).slice(0, 2), ['0:0', '0:1'], 'a batch keeps its order');
    assert.equal(ch.size, 0);
    await sink.stop(100);
  });
});
