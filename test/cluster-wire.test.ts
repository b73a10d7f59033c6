import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { batchFromLines } from '../daemon/channel/index.js';
import { UrlInterner } from '../daemon/counts/index.js';
import { DimensionBatch } from '../daemon/counts/dimension-batch.js';
import { encodeBatch, partitionOfBatch } from '../daemon/cluster/event-wire.js';
import { allGroups, CellsCursor, groupByKey } from '../daemon/cluster/cells-wire.js';
import { PartialCursor, type PartialHead } from '../daemon/cluster/partial-wire.js';
import { decodeResults, encodeProgress, encodeRow, encodeWindow } from '../daemon/cluster/results-wire.js';
import { ByteReader, ByteWriter } from '../daemon/cluster/wire-bytes.js';
import { sourceIdOf } from '../daemon/source/file-key.js';
import { hashOf } from '../daemon/counts/key-hash.js';
import { VisitorSketch } from '../daemon/counts/visitor-sketch.js';
import { tempDir } from './helpers/daemon.js';
import { builderOf } from './helpers/partial-builder.js';

const START = Date.UTC(2026, 0, 1);
const line = (url: string, s = 0, status = 200, bytes = 1) => `10.0.0.1 - - [01/Jan/2026:00:00:${String(s).padStart(2, '0')} +0000] "GET ${url} HTTP/1.1" ${status} ${bytes}`;

/** Reads every message of a shard back: slot -> "dimension key status" -> [lines, bytes], and parse errors. */
function readBack(messages: Buffer[]): { heads: PartialHead[]; counts: Map<number, Map<string, [number, number]>>; parseErrors: number } {
  const counts = new Map<number, Map<string, [number, number]>>();
  const heads: PartialHead[] = [];
  let parseErrors = 0;
  for (const m of messages) {
    const c = new PartialCursor(m);
    heads.push(c.head);
    while (c.nextSlot()) {
      parseErrors += c.parseErrors;
      const slot = counts.get(c.slot) ?? new Map<string, [number, number]>();
      counts.set(c.slot, slot);
      const cells = c.cells;
      while (cells.nextSection()) {
        while (cells.nextKey()) {
          const key = c.reader.data.toString('utf8', cells.keyStart, cells.keyEnd);
          while (cells.nextCell()) {
            const id = `${c.head.dims[cells.dim]} ${key} ${cells.code}`;
            const [n, b] = slot.get(id) ?? [0, 0];
            slot.set(id, [n + cells.count, b + cells.bytes]);
          }
        }
      }
    }
  }
  return { heads, counts, parseErrors };
}

describe('the cluster\'s binary messages', () => {
  test('varints round-trip up to 2^53, zigzag for negatives, byte strings as ranges', () => {
    const w = new ByteWriter(4);
    const values = [0, 1, 127, 128, 300, 2 ** 31, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER];
    for (const v of values) w.varint(v);
    for (const v of [-1, -64, 63, -(2 ** 40)]) w.svarint(v);
    w.bytes(Buffer.from('/päge'));
    const r = new ByteReader(w.toBuffer());
    assert.deepEqual(values.map(() => r.varint()), values);
    assert.deepEqual([r.svarint(), r.svarint(), r.svarint(), r.svarint()], [-1, -64, 63, -(2 ** 40)]);
    r.bytes();
    assert.equal(r.data.toString('utf8', r.start, r.end), '/päge');
    assert.ok(r.done);
    assert.throws(() => new ByteReader(Buffer.from([0x80])).varint(), /ends inside a number/);
  });

  test('a partial of 20,000 distinct 122-byte URLs is cut into messages below the limit, every count kept by URL and by status with its bytes, and built again byte for byte', () => {
    const build = () => {
      const b = builderOf(true);
      const lines: string[] = [];
      for (let i = 0; i < 20_000; i++) lines.push(line(`/${String(i).padStart(8, '0')}/${'x'.repeat(112)}`, 0, i % 10 === 0 ? 404 : 200, i % 7));
      lines.push('garbage');
      b.add(7, Buffer.from(lines.join('\n')), START, 'edgeA');
      return b.build({ partition: 3, after: 6, to: 7, atMs: 1234, wmMs: 99 }, 2, 256 * 1024);
    };
    const shards = build();
    assert.equal(shards.length, 2);
    let total = 0;
    const byStatus = new Map<string, [number, number]>();
    let url404 = 0;
    for (const [shard, messages] of shards.entries()) {
      assert.ok(messages.length >= 4, `shard ${shard}: ${messages.length} messages of at most 256 KB for ~1.25 MB`);
      for (const m of messages) assert.ok(m.length <= 256 * 1024, `a message of ${m.length} bytes`);
      const { heads, counts, parseErrors } = readBack(messages);
      assert.deepEqual(heads.map((h) => [h.part, h.last, h.shard, h.partition, h.after, h.to, h.rangeEvents]), heads.map((_, i) => [i, i === heads.length - 1, shard, 3, 6, 7, 20_001]));
      assert.deepEqual(heads[0]!.sources, [['edgeA', START]]);
      // (Event time: a line without a time is not placed in a batch; shard 0 takes it.)
      assert.deepEqual([parseErrors, heads[0]!.unplacedErrors], [0, shard === 0 ? 1 : 0]);
      for (const slot of counts.values()) {
        for (const [id, [n, b]] of slot) {
          if (id.startsWith('url ')) total += n;
          if (id.startsWith('url ') && id.endsWith(' 404')) url404 += n;
          if (id.startsWith('status ')) byStatus.set(id, [(byStatus.get(id)?.[0] ?? 0) + n, (byStatus.get(id)?.[1] ?? 0) + b]);
        }
      }
    }
    assert.equal(total, 20_000);
    assert.equal(url404, 2_000);
    // Each status is a key of one shard: its lines and bytes whole there.
    let bytes404 = 0;
    let bytes200 = 0;
    for (let i = 0; i < 20_000; i++) (i % 10 === 0 ? (bytes404 += i % 7) : (bytes200 += i % 7));
    assert.deepEqual(Object.fromEntries(byStatus), { 'status 404 404': [2_000, bytes404], 'status 200 200': [18_000, bytes200] });
    // The same events give the same messages: a counter that takes over republishes them as they were.
    assert.deepEqual(build(), shards);
  });

  test('a cell with 20,000 clients in a second (160 KB of hashes) fits a 64 KiB message as each register\'s highest rank: the estimate of all of them; 300 clients go whole', () => {
    const b = builderOf(false, ['url']);
    const client = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const lines: string[] = [];
    for (let i = 0; i < 20_000; i++) lines.push(line('/busy', 0).replace('10.0.0.1', client(i)));
    for (let i = 0; i < 300; i++) lines.push(line('/calm', 0).replace('10.0.0.1', client(i)));
    b.add(1, Buffer.from(lines.join('\n')), START);
    const messages = b.build({ partition: 0, after: 0, to: 1, atMs: START, wmMs: START }, 1, 64 * 1024)[0]!;
    const carried = new Map<string, VisitorSketch>();
    let hashes = 0;
    for (const m of messages) {
      assert.ok(m.length <= 64 * 1024, `a message of ${m.length} bytes`);
      const c = new PartialCursor(m);
      while (c.nextSlot()) {
        while (c.cells.nextSection()) {
          while (c.cells.nextKey()) {
            const key = c.reader.data.toString('utf8', c.cells.keyStart, c.cells.keyEnd);
            while (c.cells.nextCell()) {
              const sketch = carried.get(key) ?? new VisitorSketch();
              carried.set(key, sketch);
              if (key === '/busy') hashes += c.cells.visitCount;
              while (c.cells.nextVisit()) sketch.add(c.cells.hi, c.cells.lo);
            }
          }
        }
      }
    }
    // Every client, hashed as the job hashes them (an independent set of the same 20,000).
    const all = new VisitorSketch();
    for (let i = 0; i < 20_000; i++) {
      const h = hashOf(client(i));
      all.add(h.hi, h.lo);
    }
    assert.ok(hashes <= 4096, `${hashes} hashes carried`);
    assert.equal(carried.get('/busy')!.exact, false);
    assert.deepEqual(carried.get('/busy')!.sketchRegisters(), all.sketchRegisters());
    assert.equal(carried.get('/busy')!.count(), all.count());
    assert.ok(Math.abs(all.count() - 20_000) <= 3 * 0.0163 * 20_000, `${all.count()} for 20,000`);
    assert.deepEqual([carried.get('/calm')!.exact, carried.get('/calm')!.count()], [true, 300]);
  });

  test('visits name their clients in each message\'s own table: 3,000 URLs of 10 clients each (30,000 clients) cut into 16 KiB messages keep every URL\'s clients', () => {
    const b = builderOf(false, ['url']);
    const client = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const want = new Map<string, Set<string>>();
    const lines: string[] = [];
    for (let i = 0; i < 30_000; i++) {
      const url = `/k${i % 3000}`;
      lines.push(line(url, 0).replace('10.0.0.1', client(i)));
      const h = hashOf(client(i));
      want.set(url, (want.get(url) ?? new Set()).add(`${h.hi}:${h.lo}`));
    }
    b.add(1, Buffer.from(lines.join('\n')), START);
    const messages = b.build({ partition: 0, after: 0, to: 1, atMs: START, wmMs: START }, 1, 16 * 1024)[0]!;
    assert.ok(messages.length >= 20, `${messages.length} messages`);
    const got = new Map<string, Set<string>>();
    for (const m of messages) {
      assert.ok(m.length <= 16 * 1024, `a message of ${m.length} bytes`);
      const c = new PartialCursor(m);
      while (c.nextSlot()) {
        while (c.cells.nextSection()) {
          while (c.cells.nextKey()) {
            const key = c.reader.data.toString('utf8', c.cells.keyStart, c.cells.keyEnd);
            while (c.cells.nextCell()) while (c.cells.nextVisit()) got.set(key, (got.get(key) ?? new Set()).add(`${c.cells.hi}:${c.cells.lo}`));
          }
        }
      }
    }
    assert.deepEqual(got, want);
  });

  test('a shard with nothing still gets a message (the partition\'s progress); a heartbeat has an empty range', () => {
    const b = builderOf(false);
    const hb = b.build({ partition: 0, after: 5, to: 5, atMs: 10, wmMs: 9 }, 1, 1024)[0]?.[0];
    assert.ok(hb, 'a message for the one shard');
    const c = new PartialCursor(hb);
    assert.deepEqual([c.head.after, c.head.to, c.head.last, c.head.rangeEvents, c.head.maxEventMs], [5, 5, true, 0, null]);
    assert.equal(c.nextSlot(), false);
  });

  test('a partial of version 1 (URL counts alone, before the dimensions) is refused naming its version', () => {
    const message = builderOf(false).build({ partition: 0, after: 0, to: 1, atMs: 1, wmMs: 1 }, 1, 4096)[0]![0];
    const old = Buffer.from(message!);
    old[0] = 1;
    assert.throws(() => new PartialCursor(old), /a partial of version 1 .*before the dimensions.*reads version 3/);
  });

  test('merge results: a row cut into parts holds every cell of the batch once; a window\'s top parts hold the top (lines and bytes) in order', () => {
    const urls = new UrlInterner();
    const batch = new DimensionBatch(false);
    for (let i = 0; i < 500; i++) {
      const id = urls.idOfString(`/url/${i}/${'y'.repeat(50)}`);
      batch.add(id, 200, 0, 0, 10 * i, i + 1);
      if (i % 3 === 0) batch.add(id, 404, 0, 0, 7, 1);
    }
    const statuses = new UrlInterner();
    const status = new DimensionBatch(false);
    status.add(statuses.idOfString('200'), 200, 0, 0, 5, 600);
    const parts = encodeRow(
      { shard: 1, shards: 3, closedThrough: 11, slot: 10, batchMs: 1000, events: 600, parseErrors: 100 },
      ['url', 'status'],
      [allGroups(groupByKey(0, urls, batch)), allGroups(groupByKey(1, statuses, status))],
      8 * 1024,
    );
    assert.ok(parts.length > 3);
    for (const p of parts) assert.ok(p.length <= 8 * 1024);
    const rows = parts.map((p) => decodeResults(p));
    assert.deepEqual(rows.map((r) => [r.kind, r.part, r.last]), rows.map((_, i) => ['row', i, i === rows.length - 1]));
    const cells: string[] = [];
    for (const r of rows) {
      if (r.kind !== 'row') continue;
      assert.deepEqual(r.dims, ['url', 'status']);
      const c = new CellsCursor(new ByteReader(r.sections), r.dims.length);
      c.begin();
      while (c.nextSection()) while (c.nextKey()) while (c.nextCell()) cells.push(`${r.dims[c.dim]} ${r.sections.toString('utf8', c.keyStart, c.keyEnd)} ${c.code} ${c.count} ${c.bytes}`);
    }
    const expected: string[] = [];
    for (let i = 0; i < 500; i++) {
      expected.push(`url /url/${i}/${'y'.repeat(50)} 200 ${i + 1} ${10 * i}`);
      if (i % 3 === 0) expected.push(`url /url/${i}/${'y'.repeat(50)} 404 1 7`);
    }
    expected.push('status 200 200 600 5');
    assert.deepEqual(cells, expected);
    assert.deepEqual(rows.map((r) => (r.kind === 'row' ? [r.events, r.parseErrors] : [])), rows.map((_, i) => (i === 0 ? [600, 100] : [0, 0])));
    const top = Array.from({ length: 300 }, (_, i) => ({ url: `/top/${i}/${'z'.repeat(40)}`, count: 1000 - i, bytes: 3 * i }));
    const counters = { eventsIn: 9, eventsCounted: 8, parseErrors: 1, late: 0, duplicates: 2 };
    const w = encodeWindow({ shard: 1, shards: 3, closedThrough: 11, endMs: 11_000, windowMs: 60_000, total: 5, distinct: 6, counters, topState: 'full', top }, 4 * 1024).map((p) => decodeResults(p));
    assert.ok(w.length > 2);
    assert.deepEqual(w.flatMap((m) => (m.kind === 'window' ? m.top : [])), top);
    assert.deepEqual(decodeResults(encodeProgress({ shard: 2, shards: 3, closedThrough: 12, counters })), { kind: 'progress', shard: 2, shards: 3, closedThrough: 12, part: 0, last: true, counters });
    const old = Buffer.from(parts[0]!);
    old[0] = 1;
    assert.throws(() => decodeResults(old), /a merge result of version 1 .*before the dimensions/);
  });

  test('an edge batch of long lines is cut into messages below the limit, a line longer than a message cut and counted', () => {
    const batch = batchFromLines(['a'.repeat(300), 'b'.repeat(300), 'c'.repeat(300), 'd'.repeat(2000)]);
    const cut = { lines: 0 };
    const messages = encodeBatch(batch, 700, cut);
    assert.deepEqual(messages.map((m) => m.toString()), [`${'a'.repeat(300)}\n${'b'.repeat(300)}`, 'c'.repeat(300), 'd'.repeat(700)]);
    assert.equal(cut.lines, 1);
    assert.deepEqual(encodeBatch(batchFromLines(['x', 'y']), 700).map(String), ['x\ny']);
  });

  test('a big file spreads over the partitions in proportion to its size, extent after extent; a small one stays in one', () => {
    const extent = 4 * 1024 * 1024;
    const parts = (key: string, bytes: number) => [...new Set(Array.from({ length: Math.ceil(bytes / 1_000_000) }, (_, i) => partitionOfBatch(key, Math.min(bytes, (i + 1) * 1_000_000), extent, 8)))];
    assert.equal(parts('small', 3_000_000).length, 1);
    assert.equal(parts('big', 40 * 1024 * 1024).length, 8);
    // Sixteen 100 MB files over 8 partitions: bytes per partition within 10% of the mean
    // (a hash per file put them on 6-7 of 8 partitions, issue 26).
    const bytes = new Array(8).fill(0);
    for (let f = 0; f < 16; f++) {
      for (let end = 1_000_000; end <= 100_000_000; end += 1_000_000) bytes[partitionOfBatch(`file-${f}`, end, extent, 8)] += 1_000_000;
    }
    const mean = bytes.reduce((a, b) => a + b) / 8;
    assert.ok(Math.max(...bytes) / mean < 1.1 && Math.min(...bytes) / mean > 0.9, bytes.join(' '));
  });
});

describe('an edge\'s identity', () => {
  test('the source id is made once and kept beside the spool: the spool reached by another path (or on a host of another name) keeps it', () => {
    const dir = tempDir('logflow-source-id-');
    const spool = path.join(dir, 'spool');
    mkdirSync(spool);
    symlinkSync(spool, path.join(dir, 'other-path'));
    const first = sourceIdOf(spool, path.join(spool, '.flumespool'));
    assert.equal(readFileSync(path.join(spool, '.flumespool', 'source-id'), 'utf8').trim(), first.id);
    const viaLink = path.join(dir, 'other-path');
    // Made from this path it would differ (the review: +60,903 lines when the spool was reached by another path).
    assert.notEqual(sourceIdOf(viaLink).id, first.id);
    assert.deepEqual(sourceIdOf(viaLink, path.join(viaLink, '.flumespool')), { id: first.id, kept: true });
    assert.deepEqual(sourceIdOf(viaLink, path.join(viaLink, '.flumespool'), 'edge_7'), { id: 'edge_7', kept: true });
  });
});

