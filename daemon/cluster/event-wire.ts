import type { EventBatch } from '../channel/index.js';

/** The header that carries the batch's position (`lf.pos`) on the wire, as the dedup id's source. */
export const POSITION = 'lf.pos';

/**
 * One source batch as one message: the bodies joined by LF (the source cut them at line
 * ends, so a body holds no LF), the batch's headers as message headers. About one byte of
 * framing per event, and nothing to decode on the counter's side but the lines.
 */
export function encodeBatch(batch: EventBatch): Buffer {
  if (batch.count === 1) return batch.data.subarray(batch.starts[0], batch.ends[0]);
  let size = batch.count - 1;
  for (let i = 0; i < batch.count; i++) size += batch.ends[i]! - batch.starts[i]!;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (let i = 0; i < batch.count; i++) {
    if (i > 0) out[at++] = 10;
    at += batch.data.copy(out, at, batch.starts[i], batch.ends[i]);
  }
  return out;
}

/** The message's headers: the batch's, and its position on the first event. */
export function batchHeaders(batch: EventBatch): Record<string, string> {
  return batch.firstHeaders ? { ...batch.headers, ...batch.firstHeaders } : { ...batch.headers };
}
