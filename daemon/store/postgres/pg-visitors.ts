import { EXACT_VISITORS, exactSetBytes, VisitorSketch } from '../../counts/visitor-sketch.js';
import { VisitorUnion } from '../../counts/visitor-union.js';

/**
 * Visitors in PostgreSQL (schema 6): the server stores sketches (`VisitorSketch.encode`'s
 * bytes) and moves them, and Node merges them, with the same code as SQLite's history: no
 * extension to install, no HyperLogLog in PL/pgSQL. A query hands Node the parts of each
 * union as one bytea, `partsSql`: each part its length (4 bytes, big-endian) and its bytes.
 */
export function partsSql(column: string): string {
  return `string_agg(int4send(length(${column})) || ${column}, ''::bytea)`;
}

/** Adds the parts of `partsSql`'s bytes to `union` (null adds nothing). */
export function addParts(union: VisitorUnion, parts: Buffer | null): VisitorUnion {
  if (parts === null) return union;
  for (let p = 0; p < parts.length;) {
    const len = parts.readInt32BE(p);
    p += 4;
    union.add(parts.subarray(p, p + len));
    p += len;
  }
  return union;
}

/** The union of `partsSql`'s bytes, as a rollup row stores it. */
export function unionOfParts(parts: Buffer): Buffer | null {
  return addParts(new VisitorUnion(), parts).bytes();
}

/**
 * A blob section's cells' visitor sets, as a row's `visits`: `cells` cells, visit v of cell
 * `of[v]` by the client `hashes[2v], hashes[2v + 1]` (distinct: a blob holds a cell's visit
 * of a client once). Up to 512, `VisitorSketch.encode`'s exact set is written directly (no
 * object per cell: most have one visitor); past it, a sketch's registers.
 */
export function cellVisits(cells: number, of: readonly number[], hashes: readonly number[]): Buffer[] {
  const counts = new Int32Array(cells + 1);
  for (const c of of) counts[c + 1]!++;
  for (let c = 0; c < cells; c++) counts[c + 1]! += counts[c]!;
  // Visits in order of their cell (a counting sort): cell c's are order[counts[c] .. counts[c + 1]).
  const next = counts.slice(0, cells);
  const order = new Int32Array(of.length);
  for (let v = 0; v < of.length; v++) order[next[of[v]!]!++] = v;
  const out: Buffer[] = [];
  for (let c = 0; c < cells; c++) {
    const from = counts[c]!;
    const to = counts[c + 1]!;
    if (to - from > EXACT_VISITORS) {
      const sketch = new VisitorSketch();
      for (let i = from; i < to; i++) sketch.add(hashes[2 * order[i]!]!, hashes[2 * order[i]! + 1]!);
      out.push(sketch.encode());
      continue;
    }
    out.push(exactSetBytes(hashes, order, from, to));
  }
  return out;
}
