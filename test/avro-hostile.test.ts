import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { batchFromLines } from '../daemon/channel/index.js';
import { AvroReader, AvroRpcClient, AvroRpcServer, encodeAppendBatchFrame, encodeFrame, FLUME_PROTOCOL_HASH, ipAllowed, NettyFrameDecoder, parseIpFilterRules, type DecodedEvents } from '../daemon/avro/index.js';
import { HandshakeRequest, HandshakeResponse } from '../daemon/avro/protocol.js';
import { parseAgentConfig } from '../daemon/agent-config.js';
import { ConfigError } from '../daemon/errors.js';
import type { Stats } from './helpers/api-types.js';
import { waitFor, withDaemon } from './helpers/daemon.js';
import { testLogger } from './helpers/logger.js';
import { ofType } from '../daemon/components.js';

const cleanup: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function server(opts: Partial<ConstructorParameters<typeof AvroRpcServer>[0]> = {}) {
  const received: string[] = [];
  const s = new AvroRpcServer({ bind: '127.0.0.1', port: 0, logger: testLogger, ...opts }, (ev: DecodedEvents) => {
    for (let i = 0; i < ev.count; i++) received.push(ev.data.toString('utf8', ev.starts[i], ev.ends[i]));
    return 'OK';
  });
  await s.listen();
  cleanup.push(() => s.close());
  return { server: s, received };
}

function jobConfig(lines: string) {
  return parseAgentConfig(`a1.jobs = j1\na1.jobs.j1.type = url-window-count\na1.jobs.j1.port = 0\n${lines}`, 'agent.conf', 'a1', '/tmp');
}

describe('Avro receiver: ipFilter', () => {
  test('rules: the first match decides, an address no rule matches is allowed (as Netty), IPv4-mapped addresses match as IPv4', () => {
    const rules = parseIpFilterRules('allow:ip:127.0.0.1, deny:ip:127.*,allow:ip:10.0.?.5');
    assert.equal(ipAllowed(rules, '127.0.0.1'), true);
    assert.equal(ipAllowed(rules, '::ffff:127.0.0.1'), true);
    assert.equal(ipAllowed(rules, '127.0.0.2'), false);
    assert.equal(ipAllowed(rules, '10.0.7.5'), true);
    assert.equal(ipAllowed(rules, '192.168.1.1'), true);
    assert.equal(ipAllowed(parseIpFilterRules('deny:ip:*'), '::1'), false);
    assert.equal(ipAllowed(parseIpFilterRules('allow:ip:::1,deny:ip:*'), '::1'), true);
    assert.equal(ipAllowed(rules, undefined), false);
  });

  test('configuration: ipFilter = true wants ipFilterRules; name: rules and malformed rules stop start-up with the line', () => {
    const rules = (text: string) => ofType(jobConfig(text).jobs, 'url-window-count')[0]!.ipFilterRules;
    assert.equal(rules(''), undefined);
    assert.equal(rules('a1.jobs.j1.ipFilterRules = deny:ip:*\n'), undefined, 'rules apply only with ipFilter = true, as in Flume');
    assert.equal(rules('a1.jobs.j1.ipFilter = true\na1.jobs.j1.ipFilterRules = allow:ip:127.*,deny:ip:*\n')!.length, 2);
    const refused = (text: string, message: RegExp) =>
      assert.throws(() => jobConfig(text), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    refused('a1.jobs.j1.ipFilter = true\n', /ipFilterRules/);
    refused('a1.jobs.j1.ipFilter = true\na1.jobs.j1.ipFilterRules = allow:name:localhost,deny:ip:*\n', /agent\.conf:5.*name: rules \(reverse DNS\) are not supported; use ip: rules/);
    refused('a1.jobs.j1.ipFilter = true\na1.jobs.j1.ipFilterRules = permit:ip:*\n', /agent\.conf:5.*neither allow: nor deny:/);
    refused('a1.jobs.j1.ipFilter = true\na1.jobs.j1.ipFilterRules = allow:ip:127.0.0.1/8\n', /agent\.conf:5.*wildcards/);
  });

  test('a refused peer is closed at once and counted; an allowed client on the same server is served', async () => {
    // No idle close within the test's time: a close can only be the filter's.
    const { server: s, received } = await server({ ipFilterRules: parseIpFilterRules('allow:ip:127.0.0.1,deny:ip:*'), idleTimeoutMs: 3_600_000 });
    // 127.0.0.2 is another address of the loopback interface: a "foreign" peer without a network.
    const foreign = net.connect({ port: s.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    foreign.on('error', () => {});
    await new Promise((r) => foreign.on('close', r));
    assert.deepEqual(s.refusedConnections, { ipFilter: 1, maxConnections: 0 });
    const client = await AvroRpcClient.connect({ host: '127.0.0.1', port: s.port, connectTimeout: 2000, requestTimeout: 2000 });
    cleanup.push(() => client.close());
    assert.equal(await client.appendBatch([batchFromLines(['from 127.0.0.1'])]), 'OK');
    assert.deepEqual(received, ['from 127.0.0.1']);
    assert.deepEqual(s.refusedConnections, { ipFilter: 1, maxConnections: 0 });
  });
});

describe('Avro receiver: ipFilter in the daemon', () => {
  test('a peer refused by a1.jobs.j1.ipFilterRules shows in /api/stats and /metrics; the daemon keeps counting', async (t) => {
    const daemon = await withDaemon(t, { extra: 'a1.jobs.j1.ipFilter = true\na1.jobs.j1.ipFilterRules = allow:ip:127.0.0.1,deny:ip:*\n' });
    for (let i = 0; i < 2; i++) {
      const foreign = net.connect({ port: daemon.avroPort!, host: '127.0.0.1', localAddress: '127.0.0.2' });
      foreign.on('error', () => {});
      await new Promise((r) => foreign.on('close', r));
    }
    const stats = await waitFor('the refusals counted', async () => {
      const { body } = await daemon.get<Stats>('/api/stats');
      return body.receiver!.refusedConnections.ipFilter === 2 ? body : undefined;
    });
    assert.deepEqual(stats.receiver!.refusedConnections, { ipFilter: 2, maxConnections: 0 });
    const metrics = await (await fetch(`${daemon.url}/metrics`)).text();
    assert.match(metrics, /^logflow_avro_refused_connections_total\{reason="ipFilter"\} 2$/m);
    assert.equal(await daemon.stop('SIGTERM'), 0);
  });
});

describe('Avro receiver: unknown messages', () => {
  test('a valid frame naming an unknown message is answered with an error; the connection and other clients go on', async () => {
    const { server: s, received } = await server();
    const socket = net.connect(s.port, '127.0.0.1');
    cleanup.push(() => socket.destroy());
    const frames: Buffer[] = [];
    const decoder = new NettyFrameDecoder({ maxFrameBytes: 1 << 20 });
    socket.on('data', (chunk) => decoder.push(chunk, (f) => frames.push(f.payload)));
    const reply = async (n: number) => {
      while (frames.length < n) await new Promise((r) => setTimeout(r, 5));
      return frames[n - 1]!;
    };
    // Handshake (our hashes: a match), empty call metadata, the name, one int parameter.
    const handshake = HandshakeRequest.toBuffer({ clientHash: FLUME_PROTOCOL_HASH, clientProtocol: null, serverHash: FLUME_PROTOCOL_HASH, meta: null });
    const nameBytes = Buffer.from('frobnicate');
    socket.write(encodeFrame(1, Buffer.concat([handshake, Buffer.from([0, nameBytes.length * 2]), nameBytes, Buffer.from([2])])));
    const answer = await reply(1);
    const { offset } = HandshakeResponse.decode(answer, 0);
    const r = new AvroReader(answer, offset);
    assert.equal(r.blockCount(), 0, 'no response metadata');
    assert.deepEqual([answer[r.pos], answer[r.pos + 1]], [1, 0], 'the error flag, then the string branch of the error union');
    r.pos += 2;
    assert.equal(r.string(), 'unknown message: frobnicate');
    // The same connection (handshake done) then sends a good batch.
    socket.write(encodeAppendBatchFrame(2, undefined, [batchFromLines(['same connection'])]));
    const ok = await reply(2);
    assert.deepEqual([...ok], [0, 0, 0], 'no metadata, no error, OK');
    const other = await AvroRpcClient.connect({ host: '127.0.0.1', port: s.port, connectTimeout: 2000, requestTimeout: 2000 });
    cleanup.push(() => other.close());
    assert.equal(await other.appendBatch([batchFromLines(['another client'])]), 'OK');
    assert.deepEqual(received, ['same connection', 'another client']);
    assert.equal(socket.destroyed, false);
  });
});
