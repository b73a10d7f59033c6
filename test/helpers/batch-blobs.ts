import { encodeBatchBlob, type BlobSection } from '../../daemon/counts/batch-blob.js';

/** A line as a batch counts it: its status, its size, and its other fields by name. */
export interface BlobLine {
  readonly status: number;
  readonly bytes: number;
  readonly [field: string]: string | number;
}

/** A line's key of `dimension` (the status as its digits). */
export const keyOf = (line: BlobLine, dimension: string): string => String(line[dimension]);

/**
 * One batch's lines as the job stores them in the history (counts/batch-blob.ts): per
 * dimension, a cell per key and status with its lines and bytes; no visits. What the stores
 * make of it is checked against counts of the lines themselves, never of the blob.
 */
export function batchBlob(lines: readonly BlobLine[], dimensions: readonly string[]): Buffer {
  const none = new Int32Array(0);
  const sections: BlobSection[] = dimensions.map((name) => {
    const ids = new Map<string, number>();
    const names: Buffer[] = [];
    const cells = new Map<string, { key: number; code: number; count: number; bytes: number }>();
    for (const l of lines) {
      const k = keyOf(l, name);
      let id = ids.get(k);
      if (id === undefined) ids.set(k, (id = names.push(Buffer.from(k)) - 1));
      const cell = cells.get(`${id} ${l.status}`) ?? { key: id, code: l.status, count: 0, bytes: 0 };
      cell.count++;
      cell.bytes += l.bytes;
      cells.set(`${id} ${l.status}`, cell);
    }
    const list = [...cells.values()];
    return {
      name,
      keys: { idLimit: names.length, byteLength: (id: number) => names[id]!.length, copyBytes: (id: number, out: Buffer, pos: number) => pos + names[id]!.copy(out, pos) },
      batch: {
        visitors: false,
        keys: Int32Array.from(list, (c) => c.key),
        codes: Int32Array.from(list, (c) => c.code),
        counts: Int32Array.from(list, (c) => c.count),
        bytes: Float64Array.from(list, (c) => c.bytes),
        size: list.length,
        visitCells: none,
        visitHashes: none,
        visits: 0,
      },
    };
  });
  return encodeBatchBlob(sections);
}
