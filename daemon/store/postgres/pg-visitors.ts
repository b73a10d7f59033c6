import { VisitorSketch } from '../../counts/visitor-sketch.js';
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
 * A batch cell's visitor set as a row's `visits[i]`, from its clients' hashes (hi, lo pairs,
 * distinct: a blob holds a cell's visit of a client once). One visitor, as most cells have,
 * is written directly; more go through a sketch (an exact set, past 512 registers).
 */
export function cellVisits(hashes: readonly number[]): Buffer {
  if (hashes.length === 2) {
    const out = Buffer.allocUnsafe(9);
    out[0] = 1;
    out.writeInt32LE(hashes[0]!, 1);
    out.writeInt32LE(hashes[1]!, 5);
    return out;
  }
  const sketch = new VisitorSketch();
  for (let i = 0; i < hashes.length; i += 2) sketch.add(hashes[i]!, hashes[i + 1]!);
  return sketch.encode();
}
