import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import avro from 'avsc';
import { batchFromLines } from '../daemon/channel/index.js';
import { AvroReader, AvroRpcClient, AvroRpcServer, DecodedEvents, encodeAppendBatchFrame, encodeFrame, FLUME_PROTOCOL, FLUME_PROTOCOL_HASH, NettyFrameDecoder, readEventObject, type FlumeEvent } from '../daemon/avro/index.js';
import { HandshakeRequest } from '../daemon/avro/protocol.js';
import { capturingLogger, testLogger } from './helpers/logger.js';

const service = avro.Service.forProtocol(FLUME_PROTOCOL as unknown as any);
const eventArray = avro.Type.forSchema({ type: 'array', items: (service.type('org.apache.flume.source.avro.AvroFlumeEvent') as avro.Type).schema() } as avro.Schema);

/** Starts our receiver and collects everything it is sent, as objects. */
async function collectingServer(): Promise<{ server: AvroRpcServer; received: FlumeEvent[] }> {
  const received: FlumeEvent[] = [];
  const server = new AvroRpcServer({ bind: '127.0.0.1', port: 0, logger: testLogger }, (events: DecodedEvents) => {
    for (let i = 0; i < events.count; i++) {
      received.push({ headers: { timestamp: String(events.timestamps[i]) }, body: Buffer.from(events.data.subarray(events.starts[i], events.ends[i])) });
    }
    return 'OK';
  });
  await server.listen();
  return { server, received };
}

describe('AvroFlumeEvent codec', () => {
  test('encodes appendBatch events exactly as avsc does', () => {
    const headers = { file: '/spool/a.log', timestamp: '1700000000000', 'ünïcode': 'väl' };
    const bodies = ['GET / HTTP/1.1', '', 'x'.repeat(300), 'naïve ✓'];
    const frame = encodeAppendBatchFrame(7, undefined, [batchFromLines(bodies, headers)]);
    // frame = [serial][1][len] [meta=0][string "appendBatch"][array]
    assert.equal(frame.readInt32BE(0), 7);
    assert.equal(frame.readInt32BE(4), 1);
    assert.equal(frame.readInt32BE(8), frame.length - 12);
    const r = new AvroReader(frame, 12);
    assert.equal(r.blockCount(), 0);
    assert.equal(r.string(), 'appendBatch');
    const expected = eventArray.toBuffer(bodies.map((b) => ({ headers, body: Buffer.from(b) })));
    assert.deepEqual(frame.subarray(r.pos), expected);
  });

  test('golden bytes: a first call (handshake + appendBatch) is exactly these bytes', () => {
    // Pinned: a change here changes the wire; Flume, Spark and avsc peers depend on it.
    const GOLDEN =
      '00000001' + '00000001' + '0000007b' + // Netty: serial 1, one buffer of 123 bytes
      '30da54059df72d9584b867d5202e2069' + '00' + '30da54059df72d9584b867d5202e2069' + '00' + // handshake: hash, no protocol, hash, no meta
      '00' + '16' + Buffer.from('appendBatch').toString('hex') + // call metadata, message name
      '04' + // two events
      '04' + '12' + Buffer.from('timestamp').toString('hex') + '1a' + Buffer.from('1700000000000').toString('hex') +
      '0c' + Buffer.from('lf.pos').toString('hex') + '0a' + Buffer.from('k:9:2').toString('hex') + '00' + '0c' + Buffer.from('GET /a').toString('hex') +
      '02' + '12' + Buffer.from('timestamp').toString('hex') + '1a' + Buffer.from('1700000000000').toString('hex') + '00' + '02' + '78' +
      '00'; // end of the array
    const handshake = HandshakeRequest.toBuffer({ clientHash: FLUME_PROTOCOL_HASH, clientProtocol: null, serverHash: FLUME_PROTOCOL_HASH, meta: null });
    const batch = { ...batchFromLines(['GET /a', 'x'], { timestamp: '1700000000000' }), firstHeaders: { 'lf.pos': 'k:9:2' } };
    assert.equal(encodeAppendBatchFrame(1, handshake, [batch]).toString('hex'), GOLDEN);
    assert.equal(FLUME_PROTOCOL_HASH.toString('hex'), '30da54059df72d9584b867d5202e2069');
  });

  test('headers only the first event of a batch carries are encoded on it alone', () => {
    const headers = { timestamp: '1' };
    const batch = { ...batchFromLines(['a', 'b', 'c'], headers), firstHeaders: { 'lf.pos': 'k:10:3' } };
    const frame = encodeAppendBatchFrame(1, undefined, [batch]);
    const r = new AvroReader(frame, 12);
    r.blockCount();
    r.string();
    const expected = eventArray.toBuffer([
      { headers: { timestamp: '1', 'lf.pos': 'k:10:3' }, body: Buffer.from('a') },
      { headers, body: Buffer.from('b') },
      { headers, body: Buffer.from('c') },
    ]);
    assert.deepEqual(frame.subarray(r.pos), expected);
  });

  test('decodes events written by avsc, including multi-block maps and arrays', () => {
    const events = [
      { headers: { timestamp: '1234', a: 'b' }, body: Buffer.from('one') },
      { headers: {}, body: Buffer.from('two') },
      { headers: { timestamp: 'not a number' }, body: Buffer.alloc(0) },
    ];
    const bytes = eventArray.toBuffer(events);
    const r = new AvroReader(bytes);
    const out: FlumeEvent[] = [];
    for (let n = r.blockCount(); n !== 0; n = r.blockCount()) for (let i = 0; i < n; i++) out.push(readEventObject(r));
    assert.deepEqual(out, events);
  });
});

describe('Avro RPC over Netty framing, against avsc', () => {
  const cleanup: (() => unknown)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c();
  });

  test('an avsc stateful client sends append and appendBatch to our server', async () => {
    const { server, received } = await collectingServer();
    cleanup.push(() => server.close());
    const client = service.createClient({ buffering: true });
    const socket = net.connect(server.port, '127.0.0.1');
    client.createChannel(socket);
    cleanup.push(() => socket.destroy());
    const call = (name: string, req: unknown) =>
      new Promise((resolve, reject) => client.emitMessage(name, req, (err: unknown, res: unknown) => (err ? reject(err) : resolve(res))));
    assert.equal(await call('append', { event: { headers: { timestamp: '5' }, body: Buffer.from('first') } }), 'OK');
    const batch = Array.from({ length: 1000 }, (_, i) => ({ headers: { timestamp: String(i) }, body: Buffer.from(`line ${i}`) }));
    assert.equal(await call('appendBatch', { events: batch }), 'OK');
    assert.equal(await call('appendBatch', { events: [] }), 'OK');
    assert.equal(received.length, 1001);
    assert.equal(received[0]!.body.toString(), 'first');
    assert.equal(received[0]!.headers.timestamp, '5');
    assert.equal(received[1000]!.body.toString(), 'line 999');
  });

  test('our client sends to an avsc server, handshaking with the whole protocol when asked', async () => {
    const got: { headers: Record<string, string>; body: Buffer }[] = [];
    const avscServer = service.createServer().onMessage('appendBatch', (req: { events: typeof got }, cb: (err: unknown, res?: string) => void) => {
      got.push(...req.events);
      cb(null, 'OK');
    });
    const tcp = net.createServer((s) => avscServer.createChannel(s));
    await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise((r) => tcp.close(r)));
    const port = (tcp.address() as net.AddressInfo).port;
    const client = await AvroRpcClient.connect({ host: '127.0.0.1', port, connectTimeout: 2000, requestTimeout: 2000 });
    cleanup.push(() => client.close());
    const headers = { file: '/x', timestamp: '42' };
    assert.equal(await client.appendBatch([batchFromLines(['a', 'bb'], headers), batchFromLines(['ccc'], headers)]), 'OK');
    assert.equal(await client.appendBatch([batchFromLines(['d'], headers)]), 'OK');
    assert.deepEqual(got.map((e) => e.body.toString()), ['a', 'bb', 'ccc', 'd']);
    assert.deepEqual({ ...got[0]!.headers }, headers);
  });

  test('a server asks an unknown client for its protocol (NONE), then accepts it', async () => {
    const { server, received } = await collectingServer();
    cleanup.push(() => server.close());
    // Same messages, other JSON text: another MD5, as a Java or Python client would have.
    const other = avro.Service.forProtocol({ ...(FLUME_PROTOCOL as unknown as any), doc: 'another client' });
    const client = other.createClient({ buffering: true });
    const socket = net.connect(server.port, '127.0.0.1');
    client.createChannel(socket);
    cleanup.push(() => socket.destroy());
    const res = await new Promise((resolve, reject) =>
      client.emitMessage('append', { event: { headers: {}, body: Buffer.from('hello') } }, (err: unknown, r: unknown) => (err ? reject(err) : resolve(r))),
    );
    assert.equal(res, 'OK');
    assert.equal(received[0]!.body.toString(), 'hello');
  });

  test('garbage on a connection closes that connection only', async () => {
    const { server, received } = await collectingServer();
    cleanup.push(() => server.close());
    const bad = net.connect(server.port, '127.0.0.1');
    const closed = new Promise((r) => bad.on('close', r));
    bad.on('error', () => {});
    bad.write(Buffer.from([0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4]));
    await closed;
    const client = await AvroRpcClient.connect({ host: '127.0.0.1', port: server.port, connectTimeout: 2000, requestTimeout: 2000 });
    cleanup.push(() => client.close());
    assert.equal(await client.appendBatch([batchFromLines(['still fine'])]), 'OK');
    assert.equal(received.at(-1)!.body.toString(), 'still fine');
  });

  test('a connection past maxConnections closes the one silent longest, never a calling client; a stalled half frame is closed after idleTimeout', async () => {
    const received: string[] = [];
    const server = new AvroRpcServer(
      { bind: '127.0.0.1', port: 0, logger: testLogger, maxConnections: 2, idleTimeoutMs: 300 },
      (ev: DecodedEvents) => {
        for (let i = 0; i < ev.count; i++) received.push(ev.data.toString('utf8', ev.starts[i], ev.ends[i]));
        return 'OK';
      },
    );
    await server.listen();
    cleanup.push(() => server.close());
    const open = () => new Promise<net.Socket>((resolve) => {
      const s = net.connect(server.port, '127.0.0.1', () => resolve(s));
      s.on('error', () => {});
    });
    const closed = (s: net.Socket) => new Promise<number>((resolve) => {
      const t0 = Date.now();
      s.on('close', () => resolve(Date.now() - t0));
    });
    const half = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 100, 1, 2, 3]); // a frame of 100 bytes, 3 sent
    const first = await open();
    first.write(half);
    const client = await AvroRpcClient.connect({ host: '127.0.0.1', port: server.port, connectTimeout: 2000, requestTimeout: 2000 });
    cleanup.push(() => client.close());
    assert.equal(await client.appendBatch([batchFromLines(['first call'])]), 'OK');
    // At the cap: the newcomer closes the connection that has gone longest without a frame.
    const firstClosed = closed(first);
    const stalled = await open();
    assert.ok((await firstClosed) < 200, 'the silent connection is closed at once for the new one');
    assert.equal(server.refusedConnections.maxConnections, 1);
    stalled.write(half);
    // An active client is not idle: it keeps calling while the stalled one times out.
    const stalledClosed = closed(stalled);
    let calls = 0;
    let done = false;
    void stalledClosed.then(() => (done = true));
    while (!done) {
      assert.equal(await client.appendBatch([batchFromLines([`call ${calls++}`])]), 'OK');
      await new Promise((r) => setTimeout(r, 50));
    }
    const stalledFor = await stalledClosed;
    assert.ok(stalledFor < 2000, `the stalled connection was closed after ${stalledFor} ms`);
    assert.equal(await client.appendBatch([batchFromLines(['still served'])]), 'OK');
    assert.equal(received.at(-1), 'still served');
    assert.equal(received.length, calls + 2);
  });

  test('a frame that claims more than maxFrameBytes is refused before it is buffered', async () => {
    const { logger, lines } = capturingLogger();
    // The idle timeout would close the connection too; keep it far past the wait below.
    const server = new AvroRpcServer({ bind: '127.0.0.1', port: 0, logger, maxFrameBytes: 1024, idleTimeoutMs: 600_000 }, () => 'OK');
    await server.listen();
    cleanup.push(() => server.close());
    const s = net.connect(server.port, '127.0.0.1');
    s.on('error', () => {});
    const closedSoon = new Promise<'closed'>((r) => s.on('close', () => r('closed')));
    // Claims a 2 GB buffer, sends a little of it.
    s.write(Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xf0]), Buffer.alloc(2048)]));
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<'still open'>((r) => (timer = setTimeout(() => r('still open'), 20_000)));
    const outcome = await Promise.race([closedSoon, gaveUp]);
    clearTimeout(timer);
    s.destroy();
    assert.equal(outcome, 'closed', 'the server closes a connection whose frame claims more than maxFrameBytes');
    const refusal = lines.map((l) => JSON.parse(l)).find((e) => e.msg === 'closing avro connection after a protocol error');
    assert.match(refusal?.err ?? '', /Netty frame of (at least )?\d+ bytes exceeds the limit of 1024/);
  });
});

describe('Netty frame decoder', () => {
  /** Frames of `sizes` bytes (byte i of frame f is (f * 7 + i) & 255), as one stream cut into `chunk`-byte pieces. */
  function stream(sizes: number[], chunk: number): { pieces: Buffer[]; payloads: Buffer[] } {
    const payloads = sizes.map((n, f) => Buffer.from(Array.from({ length: n }, (_, i) => (f * 7 + i) & 255)));
    const all = Buffer.concat(payloads.map((p, f) => encodeFrame(f, p)));
    const pieces: Buffer[] = [];
    for (let at = 0; at < all.length; at += chunk) pieces.push(Buffer.from(all.subarray(at, at + chunk)));
    return { pieces, payloads };
  }

  test('frames cut into chunks anywhere come out whole; with reuseBuffers, a frame joined from chunks is joined into memory used again once released, never while held', () => {
    const sizes = [5, 300_000, 3, 250_000, 0, 270_000, 270_000, 17];
    for (const chunk of [1, 7, 4096, 65_536, 1 << 20]) {
      const { pieces, payloads } = stream(sizes, chunk);
      for (const reuseBuffers of [false, true]) {
        const decoder = new NettyFrameDecoder(undefined, { reuseBuffers });
        const seen: { serial: number; copy: Buffer; payload: Buffer; release?: () => void }[] = [];
        for (const piece of pieces) {
          decoder.push(piece, (f) => seen.push({ serial: f.serial, copy: Buffer.from(f.payload), payload: f.payload, release: f.release }));
          // Frames 1 and 3 are handled (released) at once; 5 is held until the end.
          for (const s of seen) if (s.serial === 1 || s.serial === 3) s.release?.();
        }
        assert.deepEqual(seen.map((s) => s.serial), sizes.map((_, f) => f), `chunk ${chunk}`);
        for (const [f, s] of seen.entries()) {
          assert.ok(s.copy.equals(payloads[f]!), `frame ${f} as it came out, chunk ${chunk}, reuse ${reuseBuffers}`);
          if (f !== 1 && f !== 3) assert.ok(s.payload.equals(payloads[f]!), `frame ${f} unchanged while held, chunk ${chunk}, reuse ${reuseBuffers}`);
        }
        // (Chunks smaller than the large frames: each of those is joined from several.)
        if (chunk >= 250_000) continue;
        const sameMemory = seen[1]!.payload.buffer === seen[3]!.payload.buffer;
        assert.equal(sameMemory, reuseBuffers, `frame 3 reuses frame 1's memory: chunk ${chunk}, reuse ${reuseBuffers}`);
        assert.notEqual(seen[5]!.payload.buffer, seen[6]!.payload.buffer, 'a frame still held is not joined over');
      }
    }
  });
});
