/**
 * A closed slot's cells as the window keeps them until the slot leaves: per cell its id, its
 * lines and its bytes, as three varints in one byte array (~7 bytes a cell, against 16 in
 * an Int32Array, an Int32Array and a Float64Array). At a million URLs a 300-slot window
 * keeps ~5 million of these: 83 MB as arrays, ~35 MB packed. Read in order, once, when the
 * slot leaves (or an early firing's update amends it): nothing needs them at random.
 *
 * A byte sum that is not a whole number from 0 to 2^53 (none a parsed line gives) keeps
 * the arrays as they are: the packing never changes a figure.
 */
interface RawCells {
  readonly cells: Int32Array;
  readonly counts: Int32Array;
  readonly bytes: Float64Array;
}

export class PackedCells {
  /** Cells. */
  readonly length: number;
  readonly #packed: Uint8Array | undefined;
  readonly #raw: RawCells | undefined;

  private constructor(length: number, packed: Uint8Array | undefined, raw: RawCells | undefined) {
    this.length = length;
    this.#packed = packed;
    this.#raw = raw;
  }

  /** The first `n` of `cells`, `counts` (whole, >= 0) and `bytes`. */
  static pack(cells: Int32Array, counts: Int32Array, bytes: Float64Array, n: number): PackedCells {
    if (scratch.length < n * MAX_BYTES) scratch = new Uint8Array(n * MAX_BYTES * 2);
    const out = scratch;
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const b = bytes[i]!;
      if (!(b >= 0 && b <= Number.MAX_SAFE_INTEGER && Math.floor(b) === b)) {
        return new PackedCells(n, undefined, { cells: cells.slice(0, n), counts: counts.slice(0, n), bytes: bytes.slice(0, n) });
      }
      pos = varint(out, pos, cells[i]!);
      pos = varint(out, pos, counts[i]!);
      pos = varint(out, pos, b);
    }
    return new PackedCells(n, out.slice(0, pos), undefined);
  }

  /** What it holds, in bytes. */
  get byteLength(): number {
    const raw = this.#raw;
    return this.#packed ? this.#packed.byteLength : raw!.cells.byteLength + raw!.counts.byteLength + raw!.bytes.byteLength;
  }

  /** Calls `each(cell, count, bytes)` for every cell, in the order they were packed. */
  forEach(each: (cell: number, count: number, bytes: number) => void): void {
    const raw = this.#raw;
    if (raw) {
      for (let i = 0; i < this.length; i++) each(raw.cells[i]!, raw.counts[i]!, raw.bytes[i]!);
      return;
    }
    const packed = this.#packed!;
    const reader = { pos: 0 };
    for (let i = 0; i < this.length; i++) {
      const cell = readVarint(packed, reader);
      const count = readVarint(packed, reader);
      each(cell, count, readVarint(packed, reader));
    }
  }
}

/** A cell's worst case: two int32 varints (5 bytes each) and a byte sum up to 2^53 (8 bytes). */
const MAX_BYTES = 18;
let scratch = new Uint8Array(1024 * MAX_BYTES);

function varint(out: Uint8Array, pos: number, v: number): number {
  if (v < 0x80000000) {
    while (v >= 128) {
      out[pos++] = (v & 127) | 0x80;
      v >>>= 7;
    }
    out[pos++] = v;
    return pos;
  }
  while (v >= 128) {
    out[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  out[pos++] = v;
  return pos;
}

function readVarint(data: Uint8Array, at: { pos: number }): number {
  let pos = at.pos;
  let b = data[pos++]!;
  if (b < 128) {
    at.pos = pos;
    return b;
  }
  let v = b & 127;
  let scale = 128;
  for (;;) {
    b = data[pos++]!;
    v += (b & 127) * scale;
    if (b < 128) break;
    scale *= 128;
  }
  at.pos = pos;
  return v;
}
