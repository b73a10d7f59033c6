import { RECORD_HEADER_BYTES } from '../durable/index.js';
import type { EventBatch } from './event-batch.js';

/**
 * One put transaction: `[seq f64][batches u16]`, then per batch `[meta length u32][meta
 * JSON (headers, firstHeaders)][count u32][count body lengths u32][bodies]`; framed by
 * `[length][crc32]` (RecordLog.seal fills it in).
 */
export function encodeRecord(seq: number, batches: readonly EventBatch[]): Buffer {
  const metas = batches.map((b) => Buffer.from(JSON.stringify(b.firstHeaders ? [b.headers, b.firstHeaders] : [b.headers])));
  let size = RECORD_HEADER_BYTES + 8 + 2;
  for (let i = 0; i < batches.length; i++) {
    const b = batches[i]!;
    size += 4 + metas[i]!.length + 4 + 4 * b.count;
    for (let e = 0; e < b.count; e++) size += b.ends[e]! - b.starts[e]!;
  }
  const out = Buffer.allocUnsafe(size);
  let pos = RECORD_HEADER_BYTES;
  out.writeDoubleBE(seq, pos);
  pos += 8;
  out.writeUInt16BE(batches.length, pos);
  pos += 2;
  for (let i = 0; i < batches.length; i++) {
    const b = batches[i]!;
    out.writeUInt32BE(metas[i]!.length, pos);
    pos += 4 + metas[i]!.copy(out, pos + 4);
    out.writeUInt32BE(b.count, pos);
    pos += 4;
    for (let e = 0; e < b.count; e++) {
      out.writeUInt32BE(b.ends[e]! - b.starts[e]!, pos);
      pos += 4;
    }
    for (let e = 0; e < b.count; e++) pos += b.data.copy(out, pos, b.starts[e]!, b.ends[e]!);
  }
  return out;
}

export function decodeRecord(payload: Buffer): { seq: number; batches: EventBatch[] } {
  let pos = 0;
  const seq = payload.readDoubleBE(pos);
  pos += 8;
  const n = payload.readUInt16BE(pos);
  pos += 2;
  const batches: EventBatch[] = [];
  for (let i = 0; i < n; i++) {
    const metaLen = payload.readUInt32BE(pos);
    const meta = JSON.parse(payload.toString('utf8', pos + 4, pos + 4 + metaLen)) as [Record<string, string>, Record<string, string>?];
    pos += 4 + metaLen;
    const count = payload.readUInt32BE(pos);
    pos += 4;
    const starts = new Int32Array(count);
    const ends = new Int32Array(count);
    let at = 0;
    for (let e = 0; e < count; e++) {
      starts[e] = at;
      at += payload.readUInt32BE(pos);
      ends[e] = at;
      pos += 4;
    }
    // A view: the record's buffer is read for this record alone.
    const data = payload.subarray(pos, pos + at);
    pos += at;
    batches.push({ data, starts, ends, count, headers: meta[0], ...(meta[1] && { firstHeaders: meta[1] }) });
  }
  return { seq, batches };
}
