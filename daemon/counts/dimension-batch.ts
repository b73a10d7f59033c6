/** Past this many entries a batch's hash keeps the bytes it grew to when cleared for reuse. */
const INITIAL = 16;

/**
 * One dimension's counts of a batch still open: per (key id, status, client) the lines
 * (`counts`) and the bytes they sent. The client's 64-bit hash is part of the entry so
 * that the window learns each key's visitors; a dimension without visitors keeps it 0.
 * Adding a line is one probe of a hash of integers and two increments; nothing is
 * allocated per line. The window turns entries into cells (key, status) when the batch
 * closes.
 */
export class DimensionBatch {
  keys = new Int32Array(INITIAL);
  codes = new Int32Array(INITIAL);
  /** The client's hash, two int32 per entry. */
  hashes = new Int32Array(2 * INITIAL);
  counts = new Int32Array(INITIAL);
  bytes = new Float64Array(INITIAL);
  size = 0;
  /** Bucket -> entry + 1 (0: empty). */
  #table = new Int32Array(2 * INITIAL);
  #mask = 2 * INITIAL - 1;

  /** A line (or `n` of them) of key `key`, status `code`, client (hi, lo), `bytes` sent. */
  add(key: number, code: number, hi: number, lo: number, bytes: number, n = 1): void {
    const table = this.#table;
    const mask = this.#mask;
    for (let b = hash(key, code, hi, lo) & mask; ; b = (b + 1) & mask) {
      const slot = table[b]!;
      if (slot === 0) {
        const i = this.#append(key, code, hi, lo);
        this.counts[i] = n;
        this.bytes[i] = bytes;
        table[b] = i + 1;
        if (this.size * 2 > table.length) this.#rehash();
        return;
      }
      const i = slot - 1;
      if (this.keys[i] === key && this.codes[i] === code && this.hashes[2 * i] === hi && this.hashes[2 * i + 1] === lo) {
        this.counts[i]! += n;
        this.bytes[i]! += bytes;
        return;
      }
    }
  }

  /** Lines counted. */
  lines(): number {
    let n = 0;
    for (let i = 0; i < this.size; i++) n += this.counts[i]!;
    return n;
  }

  /** Bytes its arrays hold (what keeping it for reuse costs). */
  get byteLength(): number {
    return this.keys.byteLength * 4 + this.bytes.byteLength + this.#table.byteLength;
  }

  /** Empties it for another batch, keeping its arrays. */
  clear(): void {
    this.#table.fill(0);
    this.size = 0;
  }

  #append(key: number, code: number, hi: number, lo: number): number {
    const i = this.size++;
    if (i === this.keys.length) this.#grow();
    this.keys[i] = key;
    this.codes[i] = code;
    this.hashes[2 * i] = hi;
    this.hashes[2 * i + 1] = lo;
    return i;
  }

  #grow(): void {
    const n = this.keys.length * 2;
    const grow = (a: Int32Array, m = 1) => {
      const b = new Int32Array(n * m);
      b.set(a);
      return b;
    };
    this.keys = grow(this.keys);
    this.codes = grow(this.codes);
    this.hashes = grow(this.hashes, 2);
    this.counts = grow(this.counts);
    const bytes = new Float64Array(n);
    bytes.set(this.bytes);
    this.bytes = bytes;
  }

  #rehash(): void {
    const cap = this.#table.length * 2;
    const table = (this.#table = new Int32Array(cap));
    const mask = (this.#mask = cap - 1);
    for (let i = 0; i < this.size; i++) {
      let b = hash(this.keys[i]!, this.codes[i]!, this.hashes[2 * i]!, this.hashes[2 * i + 1]!) & mask;
      while (table[b] !== 0) b = (b + 1) & mask;
      table[b] = i + 1;
    }
  }
}

function hash(key: number, code: number, hi: number, lo: number): number {
  let h = Math.imul(key, 0x9e3779b1) ^ Math.imul(code, 0x85ebca6b) ^ hi ^ Math.imul(lo, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  return h ^ (h >>> 15);
}
