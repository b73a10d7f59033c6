import type { EventBatch } from '../channel/event-batch.js';
import { AvroReader, encodeString, encodeStringMap, longSize, writeLong } from './binary.js';
import { FRAME_HEADER_BYTES, writeFrameHeader } from './netty-framing.js';
import { LogflowError } from '../errors.js';

/**
 * A codec specialised for `AvroFlumeEvent` (`{map<string> headers; bytes body}`): it writes
 * and reads the exact bytes avsc would (pinned by tests), without building an object per
 * event. Headers shared by a batch are encoded once and copied per event.
 */

const EMPTY_META = 0; // an empty map<bytes>: one zero block count
const APPEND_BATCH = encodeString('appendBatch');

/** A whole Netty frame: `[handshake]` call metadata, `appendBatch`, the events. */
export function encodeAppendBatchFrame(
  serial: number,
  handshake: Buffer | undefined,
  batches: readonly EventBatch[],
  alloc: (size: number) => Buffer = Buffer.allocUnsafe,
): Buffer {
  const headerBytes = batches.map((b) => encodeStringMap(b.headers));
  const firstBytes = batches.map((b, i) => (b.firstHeaders ? encodeStringMap({ ...b.headers, ...b.firstHeaders }) : headerBytes[i]!));
  let count = 0;
  let size = FRAME_HEADER_BYTES + (handshake?.length ?? 0) + 1 + APPEND_BATCH.length + 1;
  for (let b = 0; b < batches.length; b++) {
    const batch = batches[b]!;
    const hb = headerBytes[b]!.length;
    count += batch.count;
    if (batch.count > 0) size += firstBytes[b]!.length - hb;
    for (let i = 0; i < batch.count; i++) {
      const len = batch.ends[i]! - batch.starts[i]!;
      size += hb + longSize(len) + len;
    }
  }
  size += longSize(count);
  const out = alloc(size);
  writeFrameHeader(out, serial, size - FRAME_HEADER_BYTES);
  let pos = FRAME_HEADER_BYTES;
  if (handshake) pos += handshake.copy(out, pos);
  out[pos++] = EMPTY_META;
  pos += APPEND_BATCH.copy(out, pos);
  if (count > 0) pos = writeLong(out, pos, count);
  for (let b = 0; b < batches.length; b++) {
    const batch = batches[b]!;
    const hb = headerBytes[b]!;
    const data = batch.data;
    for (let i = 0; i < batch.count; i++) {
      const s = batch.starts[i]!;
      const e = batch.ends[i]!;
      const h = i === 0 ? firstBytes[b]! : hb;
      out.set(h, pos);
      pos += h.length;
      pos = writeLong(out, pos, e - s);
      pos += data.copy(out, pos, s, e);
    }
  }
  out[pos++] = 0;
  return out;
}

/**
 * Events decoded in place: body i is `data[starts[i], ends[i])`; the values of the few
 * headers the job needs are ranges too (-1 when absent). Reused between calls.
 */
export class DecodedEvents {
  data: Buffer = Buffer.alloc(0);
  count = 0;
  starts = new Int32Array(1024);
  ends = new Int32Array(1024);
  /** Value of the timestamp header in ms, NaN when absent or not a number. */
  timestamps = new Float64Array(1024);
  /** Range of the position header's value (`fileKey:offset`), -1 when absent. */
  posStarts = new Int32Array(1024);
  posEnds = new Int32Array(1024);
  /** Range of the event-id header's value, -1 when absent. */
  idStarts = new Int32Array(1024);
  idEnds = new Int32Array(1024);

  /** Where the call's events are encoded in `data`, and whether it was `append` (one event). */
  encodedStart = 0;
  encodedEnd = 0;
  single = false;

  reset(data: Buffer): void {
    this.data = data;
    this.count = 0;
  }

  /** Index of a new event, its header ranges cleared. */
  next(): number {
    if (this.count === this.starts.length) this.#grow();
    const i = this.count++;
    this.timestamps[i] = NaN;
    this.posStarts[i] = -1;
    this.idStarts[i] = -1;
    return i;
  }

  #grow(): void {
    const n = this.starts.length * 2;
    const grow32 = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.starts = grow32(this.starts);
    this.ends = grow32(this.ends);
    this.posStarts = grow32(this.posStarts);
    this.posEnds = grow32(this.posEnds);
    this.idStarts = grow32(this.idStarts);
    this.idEnds = grow32(this.idEnds);
    const t = new Float64Array(n);
    t.set(this.timestamps);
    this.timestamps = t;
  }
}

export interface EventDecodeOptions {
  /** Header whose value is the event time in ms (Flume's timestamp interceptor). */
  readonly timestampHeader: Buffer;
  /** Header with the source position of the event's batch. */
  readonly positionHeader: Buffer;
  /** Header with a unique event id (Flume's UUID interceptor). */
  readonly idHeader: Buffer;
  /** Upper bound on the events of one call (memory guard). */
  readonly maxEvents: number;
}

/** Reads an `array<AvroFlumeEvent>` at the reader's position into `out`. */
export function decodeEventArray(r: AvroReader, out: DecodedEvents, opts: EventDecodeOptions): void {
  for (let n = r.blockCount(); n !== 0; n = r.blockCount()) {
    if (out.count + n > opts.maxEvents) {
      throw new LogflowError('LF_AVRO_MESSAGE', `a batch of more than ${opts.maxEvents} events`);
    }
    for (let i = 0; i < n; i++) decodeEvent(r, out, opts);
  }
}

/** Reads one `AvroFlumeEvent` at the reader's position into `out`. */
export function decodeEvent(r: AvroReader, out: DecodedEvents, opts: EventDecodeOptions): void {
  const buf = r.buf;
  const i = out.next();
  for (let m = r.blockCount(); m !== 0; m = r.blockCount()) {
    for (let j = 0; j < m; j++) {
      const ks = r.skipBytes();
      const klen = r.pos - ks;
      const vs = r.skipBytes();
      if (keyIs(buf, ks, klen, opts.timestampHeader)) out.timestamps[i] = parseDecimal(buf, vs, r.pos);
      else if (keyIs(buf, ks, klen, opts.positionHeader)) {
        out.posStarts[i] = vs;
        out.posEnds[i] = r.pos;
      } else if (keyIs(buf, ks, klen, opts.idHeader)) {
        out.idStarts[i] = vs;
        out.idEnds[i] = r.pos;
      }
    }
  }
  const bs = r.skipBytes();
  out.starts[i] = bs;
  out.ends[i] = r.pos;
}

/** Header keys are short: a JS loop is cheaper than a native compare per key. */
function keyIs(buf: Buffer, start: number, len: number, key: Buffer): boolean {
  if (len !== key.length) return false;
  for (let i = 0; i < len; i++) if (buf[start + i] !== key[i]) return false;
  return true;
}

function parseDecimal(buf: Buffer, start: number, end: number): number {
  if (start === end || end - start > 16) return NaN;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return NaN;
    n = n * 10 + d;
  }
  return n;
}

export interface FlumeEvent {
  headers: Record<string, string>;
  body: Buffer;
}

/** Reads one event as an object: for low-rate consumers and tests. */
export function readEventObject(r: AvroReader): FlumeEvent {
  const headers: Record<string, string> = {};
  for (let m = r.blockCount(); m !== 0; m = r.blockCount()) {
    for (let j = 0; j < m; j++) {
      const k = r.string();
      headers[k] = r.string();
    }
  }
  const bs = r.skipBytes();
  return { headers, body: Buffer.from(r.buf.subarray(bs, r.pos)) };
}
