import { encodeBatchBlob, type BlobSection } from '../../daemon/counts/batch-blob.js';
import { hashOf } from '../../daemon/counts/key-hash.js';

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
 * dimension, a cell per key and status with its lines and bytes; with `visits`, as the job
 * does when its format has a client, every dimension but `client` has each cell's distinct
 * clients (the line's `client` field, by its hash); else no visits. What the stores make of
 * it is checked against counts of the lines themselves, never of the blob.
 */
export function batchBlob(lines: readonly BlobLine[], dimensions: readonly string[], visits = false): Buffer {
  const none = new Int32Array(0);
  const sections: BlobSection[] = dimensions.map((name) => {
    const withVisits = visits && name !== 'client';
    const seen = new Set<string>();
    const visitCells: number[] = [];
    const visitHashes: number[] = [];
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
      const visit = `${id} ${l.status} ${String(l.client)}`;
      if (withVisits && !seen.has(visit)) {
        seen.add(visit);
        visitCells.push([...cells.keys()].indexOf(`${id} ${l.status}`));
        const h = hashOf(String(l.client));
        visitHashes.push(h.hi, h.lo);
      }
    }
    const list = [...cells.values()];
    return {
      name,
      keys: { idLimit: names.length, byteLength: (id: number) => names[id]!.length, copyBytes: (id: number, out: Buffer, pos: number) => pos + names[id]!.copy(out, pos) },
      batch: {
        visitors: withVisits,
        keys: Int32Array.from(list, (c) => c.key),
        codes: Int32Array.from(list, (c) => c.code),
        counts: Int32Array.from(list, (c) => c.count),
        bytes: Float64Array.from(list, (c) => c.bytes),
        size: list.length,
        visitCells: withVisits ? Int32Array.from(visitCells) : none,
        visitHashes: withVisits ? Int32Array.from(visitHashes) : none,
        visits: withVisits ? visitCells.length : 0,
      },
    };
  });
  return encodeBatchBlob(sections);
}
