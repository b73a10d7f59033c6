/**
 * The unit that flows from source to sink: many events that share their headers, whose
 * bodies are ranges of one buffer (a chunk of a file). Keeping bodies as ranges instead of
 * one object per event is what lets the pipeline move a million lines a second.
 */
export interface EventBatch {
  /** Bytes that hold every body of the batch. */
  readonly data: Buffer;
  /** Body i is `data[starts[i], ends[i])`. */
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  readonly count: number;
  /** Headers every event of the batch carries (file, basename, timestamp, ...). */
  readonly headers: Readonly<Record<string, string>>;
  /** Headers only the batch's first event carries, besides `headers` (its source position). */
  readonly firstHeaders?: Readonly<Record<string, string>>;
  /** Told once the batch is safely downstream, so the source can advance and finish files. */
  readonly onDelivered?: () => void;
  /**
   * Told once no stage needs `data` any more (the next hop answered OK), so the source can
   * reuse the buffer. Not told when a durable channel took the batch (that is
   * `onDelivered`): the bytes are still to be sent. A batch never released is collected.
   */
  readonly release?: () => void;
}

export function eventBody(batch: EventBatch, i: number): Buffer {
  return batch.data.subarray(batch.starts[i], batch.ends[i]);
}

/** Builds a batch from strings; for tests, tools and low-rate paths, not the hot path. */
export function batchFromLines(lines: readonly (string | Buffer)[], headers: Record<string, string> = {}): EventBatch {
  const parts = lines.map((l) => (typeof l === 'string' ? Buffer.from(l, 'utf8') : l));
  const data = Buffer.concat(parts);
  const starts = new Int32Array(parts.length);
  const ends = new Int32Array(parts.length);
  let at = 0;
  parts.forEach((p, i) => {
    starts[i] = at;
    at += p.length;
    ends[i] = at;
  });
  return { data, starts, ends, count: parts.length, headers };
}
