import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { JetStreamBus } from '../daemon/cluster/jetstream-bus.js';
import { compileUrlParser } from '../daemon/logformat/log-format.js';
import { decodePartial, PartialBuilder } from '../daemon/cluster/partial-counts.js';
import { PartitionCounter, type PartitionSettings } from '../daemon/cluster/partition-counter.js';
import { tempDir, waitFor } from './helpers/daemon.js';
import { testLogger } from './helpers/logger.js';
import { NatsCluster, skipWithoutNats } from './helpers/nats-cluster.js';

const line = (url: string) => `10.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "GET ${url} HTTP/1.1" 200 1`;

describe('partial counts on JetStream', { skip: skipWithoutNats }, () => {
  let cluster: NatsCluster | undefined;
  const buses: JetStreamBus[] = [];
  after(async () => {
    for (const b of buses) await b.close();
    await cluster?.stop();
  });

  test('a counter that lost its partition cannot publish an overlapping partial (the fence); a resent partial is stored once', async () => {
    cluster = await NatsCluster.start(path.join(tempDir('logflow-fence-'), 'nats'));
    const connect = async () => {
      const b = await JetStreamBus.connect(cluster!.servers.split(','), 'test', testLogger);
      buses.push(b);
      return b;
    };
    const bus = await connect();
    await bus.ensureStream({ name: 'EV', subject: 'ev', replicas: 1 });
    await bus.ensureStream({ name: 'CT', subject: 'ct', replicas: 1 });
    const findUrl = compileUrlParser('auto', false);
    const settings: PartitionSettings = { input: 'EV', inputSubject: 'ev', output: 'CT', outputSubject: 'ct', newBuilder: () => new PartialBuilder(findUrl, 1000, true) };
    const publishEvents = async (ids: string[]) => {
      for (const id of ids) await bus.publish('ev.0', Buffer.from(`${line('/' + id)}\n${line('/x')}`), { id });
    };

    await publishEvents(['a', 'b']);
    const first = await PartitionCounter.open(0, await connect(), settings, testLogger);
    await waitFor('the first counter to publish events 1-2', async () => (await first.flush(), (await bus.lastOnSubject('CT', 'ct.0'))?.header('Nats-Msg-Id') === '0:2' ? true : undefined));
    const taken = await bus.lastOnSubject('CT', 'ct.0');

    // A second counter takes the partition over (the first one's lease expired while it was paused).
    const second = await PartitionCounter.open(0, await connect(), settings, testLogger);
    await publishEvents(['c']);
    const handed = await waitFor('the second counter to publish event 3', async () => {
      await second.flush();
      const m = await bus.lastOnSubject('CT', 'ct.0');
      return m!.seq > taken!.seq ? m : undefined;
    });
    // The first one wakes up with events 3 and 4 counted (ids 0:3 and 0:4 were never
    // published as such): its partial 3-4 would overlap the new owner's 3, and is refused.
    await publishEvents(['d']);
    await waitFor('the first counter to read event 4', () => (first.lastRead === 4 ? true : undefined));
    assert.equal(await first.flush(), false);
    assert.ok(first.fenced);
    await first.close();
    await second.close();

    const last = await bus.lastOnSubject('CT', 'ct.0');
    assert.equal(last!.seq, handed.seq, 'nothing after the new owner\'s partial');
    const p = decodePartial(last!.data);
    assert.equal(last!.header('Nats-Msg-Id'), '0:3');
    assert.deepEqual([p.from, p.to, p.events], [3, 3, 2]);

    // A partial resent after a lost acknowledgement (same id) is stored once.
    const again = await bus.publish('ct.0', last!.data, { id: '0:3' });
    assert.equal(again, last!.seq);
  });
});
