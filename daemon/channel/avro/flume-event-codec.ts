import type { EventBatch } from '../event-batch.js';
import { AvroReader, encodeString, encodeStringMap, longSize, writeLong } from './binary.js';
import { FRAME_HEADER_BYTES, writeFrameHeader } from './netty-framing.js';

/**
 * A codec specialised for `AvroFlumeEvent` (`{map<string> headers; bytes body}`): it writes
 * and reads the exact bytes avsc would (pinned by tests), without building an object per
 * event. Headers shared by a batch are encoded once and copied per event.
 */

const EMPTY_META = 0; // an empty map<bytes>: one zero block count
const APPEND_BATCH = encodeString('appendBatch');
const APPEND = encodeString('append');

/** A whole Netty frame: `[handshake]` call metadata, `appendBatch`, the events. */
export function encodeAppendBatchFrame(serial: number, handshake: Buffer | undefined, batches: readonly EventBatch[]): Buffer {
  const headerBytes = batches.map((b) => encodeStringMap(b.headers));
  let count = 0;
  let size = FRAME_HEADER_BYTES + (handshake?.length ?? 0) + 1 + APPEND_BATCH.length + 1;
  for (let b = 0; b < batches.length; b++) {
    const batch = batches[b]!;
    const hb = headerBytes[b]!.length;
    count += batch.count;
    for (let i = 0; i < batch.count; i++) {
      const len = batch.ends[i]! - batch.starts[i]!;
      size += hb + longSize(len) + len;
    }
  }
  size += longSize(count);
  const out = Buffer.allocUnsafe(size);
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
      pos += hb.copy(out, pos);
      pos = writeLong(out, pos, e - s);
      pos += data.copy(out, pos, s, e);
    }
  }
  out[pos++] = 0;
  return out;
}

/** Events decoded in place: body i is `data[starts[i], ends[i])`. Reused between calls. */
export class DecodedEvents {
  data: Buffer = Buffer.alloc(0);
  count = 0;
  starts = new Int32Array(1024);
  ends = new Int32Array(1024);
  /** Value of the timestamp header in ms, NaN when absent or not a number. */
  timestamps = new Float64Array(1024);

  reset(data: Buffer): void {
    this.data = data;
    this.count = 0;
  }

  push(start: number, end: number, timestamp: number): void {
    if (this.count === this.starts.length) this.#grow();
    this.starts[this.count] = start;
    this.ends[this.count] = end;
    this.timestamps[this.count] = timestamp;
    this.count++;
  }

  #grow(): void {
    const n = this.starts.length * 2;
    const s = new Int32Array(n);
    s.set(this.starts);
    const e = new Int32Array(n);
    e.set(this.ends);
    const t = new Float64Array(n);
    t.set(this.timestamps);
    this.starts = s;
    this.ends = e;
    this.timestamps = t;
  }
}

export interface EventDecodeOptions {
  /** Header whose value is the event time in ms (Flume's timestamp interceptor). */
  readonly timestampHeader: Buffer;
  /** Upper bound on the events of one call (memory guard). */
  readonly maxEvents: number;
}

/** Reads an `array<AvroFlumeEvent>` at the reader's position into `out`. */
export function decodeEventArray(r: AvroReader, out: DecodedEvents, opts: EventDecodeOptions): void {
  for (let n = r.blockCount(); n !== 0; n = r.blockCount()) {
    if (out.count + n > opts.maxEvents) {
      throw new RangeError(`a batch of more than ${opts.maxEvents} events`);
    }
    for (let i = 0; i < n; i++) decodeEvent(r, out, opts);
  }
}

/** Reads one `AvroFlumeEvent` at the reader's position into `out`. */
export function decodeEvent(r: AvroReader, out: DecodedEvents, opts: EventDecodeOptions): void {
  const buf = r.buf;
  const tsKey = opts.timestampHeader;
  let timestamp = NaN;
  for (let m = r.blockCount(); m !== 0; m = r.blockCount()) {
    for (let j = 0; j < m; j++) {
      const ks = r.skipBytes();
      const ke = r.pos;
      const vs = r.skipBytes();
      if (ke - ks === tsKey.length && buf.compare(tsKey, 0, tsKey.length, ks, ke) === 0) {
        timestamp = parseDecimal(buf, vs, r.pos);
      }
    }
  }
  const bs = r.skipBytes();
  out.push(bs, r.pos, timestamp);
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

export const MESSAGE_NAMES = { append: APPEND, appendBatch: APPEND_BATCH } as const;
