import type { EventBatch } from '../channel/index.js';
import { partitionOf } from './bus.js';

/** The header that carries the batch's position (`lf.pos`) on the wire, as the dedup id's source. */
export const POSITION = 'lf.pos';
/** The header that names the batch in the edge's durable channel (`<epoch>:<sequence>:<part>`). */
export const CHANNEL_ID = 'lf.cid';

/**
 * One source batch as messages: the bodies joined by LF (the source cut them at line ends,
 * so a body holds no LF), each message at most `maxBytes` (a batch of long lines can pass
 * the server's max_payload); the batch's headers go with every message. About one byte of
 * framing per event, and nothing to decode on the counter's side but the lines. A single
 * line longer than a message is cut (`cut` counts them).
 */
export function encodeBatch(batch: EventBatch, maxBytes: number, cut: { lines: number } = { lines: 0 }): Buffer[] {
  const out: Buffer[] = [];
  let size = -1;
  for (let i = 0; i < batch.count; i++) size += batch.ends[i]! - batch.starts[i]! + 1;
  if (size <= maxBytes) {
    if (batch.count === 1) return [batch.data.subarray(batch.starts[0], batch.ends[0])];
    return [join(batch, 0, batch.count, size)];
  }
  let from = 0;
  let bytes = -1;
  for (let i = 0; i < batch.count; i++) {
    const len = Math.min(batch.ends[i]! - batch.starts[i]!, maxBytes);
    if (len < batch.ends[i]! - batch.starts[i]!) cut.lines++;
    if (i > from && bytes + 1 + len > maxBytes) {
      out.push(join(batch, from, i, bytes, maxBytes));
      from = i;
      bytes = -1;
    }
    bytes += len + 1;
  }
  out.push(join(batch, from, batch.count, bytes, maxBytes));
  return out;
}

function join(batch: EventBatch, from: number, to: number, size: number, maxLine = Infinity): Buffer {
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = from; i < to; i++) {
    if (i > from) out[at++] = 10;
    const end = Math.min(batch.ends[i]!, batch.starts[i]! + maxLine);
    at += batch.data.copy(out, at, batch.starts[i], end);
  }
  return out;
}

/** The message's headers: the batch's, and its position on the first event. */
export function batchHeaders(batch: EventBatch): Record<string, string> {
  return batch.firstHeaders ? { ...batch.headers, ...batch.firstHeaders } : { ...batch.headers };
}

/**
 * The partition of a batch: the file's partition (a hash of its key) for its first extent
 * (`extentBytes`), the next partition for the next extent, and so on round: a big file
 * spreads over the partitions in proportion to its size, a small one stays in one, and
 * what one edge sends to one partition still comes in the file's order (an event-time
 * watermark per edge and partition stays meaningful). Any edge, any time, puts a batch in
 * the same place.
 */
export function partitionOfBatch(fileKey: string, endOffset: number, extentBytes: number, partitions: number): number {
  return (partitionOf(fileKey, partitions) + Math.floor(Math.max(0, endOffset - 1) / extentBytes)) % partitions;
}
