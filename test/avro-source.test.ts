import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { batchFromLines, eventBody, FileChannel, MemoryChannel, type EventBatch } from '../daemon/channel/index.js';
import { AvroRpcClient, AvroRpcServer, parseIpFilterRules, type IpFilterRule } from '../daemon/avro/index.js';
import { AvroSink } from '../daemon/sink/index.js';
import { AvroSource } from '../daemon/source/index.js';
import { gatherStats } from '../daemon/agent-stats.js';
import { renderMetrics } from '../daemon/telemetry/index.js';
import { tempDir, waitFor } from './helpers/daemon.js';
import { PEER, PYTHON, runPython, servePeer, skipPython } from './helpers/python.js';
import { capturingLogger, testLogger } from './helpers/logger.js';


const memory = (capacity = 100_000, transactionCapacity = 1000, keepAliveMs = 3000) => new MemoryChannel({ name: 'c1', type: 'memory', capacity, transactionCapacity, keepAliveMs });

function avroSource(channel: MemoryChannel | FileChannel, opts: { deflate?: boolean; interceptors?: boolean; ipFilterRules?: IpFilterRule[] } = {}) {
  return new AvroSource(
    {
      name: 'r1',
      type: 'avro',
      channel: 'c1',
      bind: '127.0.0.1',
      port: 0,
      compressionType: opts.deflate ? 'deflate' : 'none',
      interceptors: opts.interceptors ? [{ type: 'static', headerName: 'tier', preserveExisting: true, value: 'collector' }] : [],
      ipFilterRules: opts.ipFilterRules,
      maxConnections: 1000,
    },
    channel,
    testLogger,
  );
}

/** Every event the channel holds, with its full headers (as the sink would send them). */
function drain(channel: MemoryChannel | FileChannel): { headers: Record<string, string>; body: string }[] {
  const out: { headers: Record<string, string>; body: string }[] = [];
  for (let taken = channel.take(1e9); taken.length > 0; taken = channel.take(1e9)) {
    for (const b of taken) {
      for (let i = 0; i < b.count; i++) {
        out.push({ headers: { ...b.headers, ...(i === 0 ? b.firstHeaders : {}) }, body: eventBody(b, i).toString() });
      }
    }
    channel.commit(taken);
  }
  return out;
}

function lines(n: number, tag: string): string[] {
  return Array.from({ length: n }, (_, i) => `${tag} ${i}`);
}


/** A TCP relay that keeps the first bytes the client sent and counts all of them. */
async function recordingProxy(target: number): Promise<{ port: number; first: Buffer[]; bytes: () => number; close: () => Promise<void> }> {
  const first: Buffer[] = [];
  let bytes = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (c: Buffer) => {
      if (first.length === 0) first.push(c);
      bytes += c.length;
      upstream.write(c);
    });
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    first,
    bytes: () => bytes,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

async function connect(port: number, deflate = false): Promise<AvroRpcClient> {
  return AvroRpcClient.connect({ host: '127.0.0.1', port, connectTimeout: 2000, requestTimeout: 5000, ...(deflate && { deflateLevel: 6 }) });
}

describe('avro source (Flume\'s collector tier)', () => {
  test('a logflow edge\'s calls land in the channel with their headers and position header, answered OK', async () => {
    const channel = memory();
    const source = avroSource(channel, { interceptors: true });
    await source.start();
    const client = await connect(source.port);
    try {
      const calls: EventBatch[][] = [];
      for (let c = 0; c < 20; c++) {
        calls.push([{ ...batchFromLines(lines(250, `call${c}`), { file: '/spool/a.log', timestamp: '1700000000000' }), firstHeaders: { 'lf.pos': `k1-abc:${c}:250` } }]);
      }
      const replies = await Promise.all(calls.map((b) => client.appendBatch(b)));
      assert.deepEqual(new Set(replies), new Set(['OK']));
      assert.equal(channel.size, 20 * 250);
      assert.equal(channel.queuedBatches, 20, 'one batch per call: the first event\'s extra header is kept as firstHeaders');
      const events = drain(channel);
      assert.equal(events.length, 5000);
      assert.deepEqual(events.slice(0, 2), [
        { headers: { file: '/spool/a.log', timestamp: '1700000000000', tier: 'collector', 'lf.pos': 'k1-abc:0:250' }, body: 'call0 0' },
        { headers: { file: '/spool/a.log', timestamp: '1700000000000', tier: 'collector' }, body: 'call0 1' },
      ]);
      assert.equal(events[4999]!.body, 'call19 249');
      assert.equal(source.eventsReceived, 5000);
    } finally {
      client.close();
      await source.stop();
    }
  });

  test('ipFilterRules: a peer they refuse is closed at once; an allowed one is served', async () => {
    const channel = memory();
    const source = avroSource(channel, { ipFilterRules: parseIpFilterRules('allow:ip:127.0.0.1,deny:ip:*') });
    await source.start();
    try {
      const foreign = net.connect({ port: source.port, host: '127.0.0.1', localAddress: '127.0.0.2' });
      foreign.on('error', () => {});
      await new Promise((r) => foreign.on('close', r));
      const client = await connect(source.port);
      assert.equal(await client.appendBatch([batchFromLines(lines(3, 'ok'))]), 'OK');
      client.close();
      assert.equal(channel.size, 3);
      assert.deepEqual(source.refusedConnections, { ipFilter: 1, maxConnections: 0 });
      const stats = gatherStats([source.stats()]);
      assert.match(renderMetrics(stats), /^logflow_avro_refused_connections_total\{reason="ipFilter"\} 1$/m);
    } finally {
      await source.stop();
    }
  });

  test('with a file channel, what was answered OK is on disk: a new channel on the same directories has it all', async () => {
    const dir = tempDir('logflow-avrofc-');
    const cfg = { name: 'c1', type: 'file', capacity: 100_000, transactionCapacity: 1000, checkpointDir: path.join(dir, 'cp'), dataDir: path.join(dir, 'data'), maxFileSize: 1 << 20 } as const;
    const channel = new FileChannel(cfg, testLogger);
    await channel.open();
    const source = avroSource(channel);
    await source.start();
    const clients = await Promise.all([0, 1, 2].map(() => connect(source.port)));
    try {
      const replies = await Promise.all(clients.flatMap((c, k) => Array.from({ length: 10 }, (_, b) => c.appendBatch([batchFromLines(lines(500, `c${k} b${b}`))]))));
      assert.deepEqual(new Set(replies), new Set(['OK']));
    } finally {
      for (const c of clients) c.close();
      await source.stop();
    }
    // Not closed first: as after a crash, only what is on disk counts.
    // A copy of the directories as they are now (the open channel holds their locks).
    const copy = tempDir('logflow-avrofc-copy-');
    cpSync(dir, copy, { recursive: true, filter: (p) => !p.endsWith('LOCK') });
    const fromDisk = new FileChannel({ ...cfg, checkpointDir: path.join(copy, 'cp'), dataDir: path.join(copy, 'data') }, testLogger);
    await fromDisk.open();
    const events = drain(fromDisk);
    assert.equal(events.length, 30 * 500);
    assert.equal(new Set(events.map((e) => e.body)).size, 30 * 500);
    await fromDisk.close();
    await channel.close();
  });

  test('a channel that stays full for its keep-alive gets the call answered FAILED (nothing of it kept); once there is room, OK', async () => {
    const channel = memory(1000, 1000, 200);
    const source = avroSource(channel);
    await source.start();
    const client = await connect(source.port);
    try {
      assert.equal(await client.appendBatch([batchFromLines(lines(1000, 'fill'))]), 'OK');
      const started = Date.now();
      assert.equal(await client.appendBatch([batchFromLines(lines(10, 'more'))]), 'FAILED');
      assert.ok(Date.now() - started >= 190, 'it waited for the keep-alive first');
      assert.equal(channel.size, 1000);
      assert.equal(channel.waitingPuts, 0, 'the refused call waits no more');
      const answer = client.appendBatch([batchFromLines(lines(10, 'later'))]);
      await waitFor('the call waiting for room', () => channel.waitingPuts > 0 || undefined);
      channel.commit(channel.take(1000));
      assert.equal(await answer, 'OK', 'room made within the keep-alive: accepted');
      assert.deepEqual(drain(channel).map((e) => e.body), lines(10, 'later'));
    } finally {
      client.close();
      await source.stop();
    }
  });

  test('a call larger than the channel\'s transactionCapacity is answered FAILED and nothing of it is kept', async () => {
    const channel = memory(10_000, 100);
    const source = avroSource(channel);
    await source.start();
    const client = await connect(source.port);
    try {
      assert.equal(await client.appendBatch([batchFromLines(lines(101, 'x'))]), 'FAILED');
      assert.equal(channel.size, 0);
      assert.equal(await client.appendBatch([batchFromLines(lines(100, 'y'))]), 'OK');
      assert.equal(channel.size, 100);
    } finally {
      client.close();
      await source.stop();
    }
  });

  test('Python\'s avro.ipc Requestor sends append and appendBatch to the avro source; each event keeps its own headers', { skip: skipPython }, async () => {
    const channel = memory();
    const source = avroSource(channel);
    await source.start();
    try {
      const run = await runPython([PEER, 'send', String(source.port), '3', '500']);
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(run.stdout.trim().split('\n'), ['OK', 'OK', 'OK', 'OK']);
      const events = drain(channel);
      assert.equal(events.length, 1 + 3 * 500);
      assert.match(events[0]!.body, /GET \/python\/append /);
      assert.equal(events[0]!.headers.id, undefined);
      assert.match(events[1]!.body, /GET \/python\/0 /);
      assert.equal(events[1]!.headers.id, 'py-0-0');
      assert.equal(events[1500]!.headers.id, 'py-2-499');
      assert.equal(new Set(events.slice(1).map((e) => e.headers.id)).size, 1500);
    } finally {
      await source.stop();
    }
  });
});

describe('compression-type = deflate (Netty\'s ZlibEncoder/ZlibDecoder under the frames)', () => {
  test('a deflate sink delivers to a deflate receiver: exact events, and the bytes on the wire are a zlib stream', async () => {
    const got: string[] = [];
    const server = new AvroRpcServer({ bind: '127.0.0.1', port: 0, compressionType: 'deflate', logger: testLogger }, (ev) => {
      for (let i = 0; i < ev.count; i++) got.push(ev.data.toString('utf8', ev.starts[i], ev.ends[i]));
      return 'OK';
    });
    const proxy = await recordingProxy(await server.listen());
    const channel = memory();
    const sink = new AvroSink(
      { name: 'k1', type: 'avro', channel: 'c1', hostname: '127.0.0.1', port: proxy.port, batchSize: 1000, connectTimeout: 2000, requestTimeout: 5000, compressionType: 'deflate', compressionLevel: 1 },
      channel,
      testLogger,
    );
    sink.start();
    try {
      for (let b = 0; b < 30; b++) await channel.put(batchFromLines(lines(1000, `GET /deflate/${b}`)));
      await sink.stop(10_000);
      assert.equal(got.length, 30_000);
      assert.equal(got[29_999], 'GET /deflate/29 999');
      assert.equal(channel.size, 0);
      assert.equal(proxy.first[0]![0], 0x78, 'a zlib header, not a Netty frame');
      const raw = got.reduce((n, l) => n + l.length, 0);
      assert.ok(proxy.bytes() < raw / 3, `${proxy.bytes()} bytes on the wire for ${raw} bytes of bodies`);
    } finally {
      await proxy.close();
      await server.close();
    }
  });

  test('a compressed client against a plain receiver fails fast with a clear log line (no hang)', async () => {
    const { logger, lines: logged } = capturingLogger();
    const server = new AvroRpcServer({ bind: '127.0.0.1', port: 0, logger }, () => 'OK');
    const port = await server.listen();
    const client = await connect(port, true);
    try {
      // The server's close, not the client's 5 s request timeout: the message says which.
      await assert.rejects(client.appendBatch([batchFromLines(['a'])]), /closed by the server before answering \(is its compression-type deflate too\?\)/);
      assert.ok(logged.some((l) => l.includes('the client sends a deflate stream: set compression-type = deflate on this receiver')), logged.join(''));
    } finally {
      client.close();
      await server.close();
    }
  });

  test('a plain client against a deflate receiver fails fast with a clear log line (no hang)', async () => {
    const { logger, lines: logged } = capturingLogger();
    const server = new AvroRpcServer({ bind: '127.0.0.1', port: 0, compressionType: 'deflate', logger }, () => 'OK');
    const port = await server.listen();
    const client = await connect(port);
    try {
      // The server's close, not the client's 5 s request timeout: the message says which.
      await assert.rejects(client.appendBatch([batchFromLines(['a'])]), /closed by the server before answering \(does it want compression-type = deflate\?\)/);
      assert.ok(logged.some((l) => l.includes('the client does not send deflate')), logged.join(''));
    } finally {
      client.close();
      await server.close();
    }
  });

  test('Python (its own zlib) sends deflate to the avro source', { skip: skipPython }, async () => {
    const channel = memory();
    const source = avroSource(channel, { deflate: true });
    await source.start();
    try {
      const run = await runPython([PEER, 'send', String(source.port), '4', '250', 'deflate']);
      assert.equal(run.status, 0, run.stderr);
      assert.deepEqual(run.stdout.trim().split('\n'), ['OK', 'OK', 'OK', 'OK', 'OK']);
      assert.equal(drain(channel).length, 1 + 4 * 250);
    } finally {
      await source.stop();
    }
  });

  test('our deflate sink delivers to a Python avro.ipc Responder speaking deflate', { skip: skipPython }, async () => {
    const count = 2000;
    const peer = await servePeer(count, 'deflate');
    const { port, exited } = peer;
    const channel = memory(10_000, 500);
    const sink = new AvroSink(
      { name: 'k1', type: 'avro', channel: 'c1', hostname: '127.0.0.1', port, batchSize: 500, connectTimeout: 2000, requestTimeout: 10_000, compressionType: 'deflate', compressionLevel: 6 },
      channel,
      testLogger,
    );
    sink.start();
    for (let b = 0; b < count / 250; b++) await channel.put(batchFromLines(lines(250, `py ${b}`)));
    assert.equal(await exited, 0, peer.stderr());
    await sink.stop(100);
    const bodies = peer.stdout().trim().split('\n').slice(1).map((l) => (JSON.parse(l) as { body: string }).body);
    assert.equal(bodies.length, count);
    assert.equal(bodies[count - 1], 'py 7 249');
  });
});
