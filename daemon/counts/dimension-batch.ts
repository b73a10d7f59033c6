const INITIAL = 16;

/**
 * One dimension's counts of a batch still open: its cells (key id, status) with their lines
 * and bytes, and, when the dimension counts visitors, its distinct visits (cell, client
 * hash). Adding a line is a probe of a hash of two integers and two increments, and a probe
 * of the visits; nothing is allocated per line. A batch of 100k lines over 10k URLs has
 * ~30k cells: what its blob, its checkpoint and its history row hold, while the visits
 * (one per distinct client of a cell) go only where visitors are counted.
 */
export class DimensionBatch {
  readonly visitors: boolean;
  keys = new Int32Array(INITIAL);
  codes = new Int32Array(INITIAL);
  counts = new Int32Array(INITIAL);
  bytes = new Float64Array(INITIAL);
  /** Cells. */
  size = 0;
  /** Distinct visits: the cell (index above) and the client's hash (two int32). */
  visitCells = new Int32Array(INITIAL);
  visitHashes = new Int32Array(2 * INITIAL);
  visits = 0;
  /** Bucket -> cell + 1 (0: empty). */
  #cells = new Int32Array(2 * INITIAL);
  #cellMask = 2 * INITIAL - 1;
  /** Bucket -> visit + 1. */
  #visits = new Int32Array(2 * INITIAL);
  #visitMask = 2 * INITIAL - 1;

  constructor(visitors: boolean) {
    this.visitors = visitors;
  }

  /** A line (or `n` of them) of key `key`, status `code`, client (hi, lo), `bytes` sent. */
  add(key: number, code: number, hi: number, lo: number, bytes: number, n = 1): void {
    const c = this.cell(key, code);
    this.counts[c]! += n;
    this.bytes[c]! += bytes;
    if (this.visitors) this.visit(c, hi, lo);
  }

  /**
   * Appends a cell known to be new (key, code, its lines and bytes) without its hash: for
   * cells from disjoint sources (a cluster's shards), where finding an equal one is
   * wasted work. The hash is made when `cell` is next used. Returns the cell's index (for
   * its visits).
   */
  append(key: number, code: number, count: number, bytes: number): number {
    const i = this.size++;
    if (i === this.keys.length) this.#growCells();
    this.keys[i] = key;
    this.codes[i] = code;
    this.counts[i] = count;
    this.bytes[i] = bytes;
    this.#unhashed = true;
    return i;
  }

  /** Cells appended since the hash was made (see `append`). */
  #unhashed = false;

  /** The index of cell (key, code), added (with no line yet) if new. */
  cell(key: number, code: number): number {
    if (this.#unhashed) this.#rehashAll();
    const table = this.#cells;
    const mask = this.#cellMask;
    for (let b = cellHash(key, code) & mask; ; b = (b + 1) & mask) {
      const slot = table[b]!;
      if (slot === 0) {
        const i = this.size++;
        if (i === this.keys.length) this.#growCells();
        this.keys[i] = key;
        this.codes[i] = code;
        this.counts[i] = 0;
        this.bytes[i] = 0;
        table[b] = i + 1;
        if (this.size * 2 > table.length) this.#rehashCells();
        return i;
      }
      const i = slot - 1;
      if (this.keys[i] === key && this.codes[i] === code) return i;
    }
  }

  /** Client (hi, lo) visited cell `c` (once per batch, however often). */
  visit(c: number, hi: number, lo: number): void {
    const table = this.#visits;
    const mask = this.#visitMask;
    for (let b = visitHash(c, hi, lo) & mask; ; b = (b + 1) & mask) {
      const slot = table[b]!;
      if (slot === 0) {
        const v = this.visits++;
        if (v === this.visitCells.length) this.#growVisits();
        this.visitCells[v] = c;
        this.visitHashes[2 * v] = hi;
        this.visitHashes[2 * v + 1] = lo;
        table[b] = v + 1;
        if (this.visits * 2 > table.length) this.#rehashVisits();
        return;
      }
      const v = slot - 1;
      if (this.visitCells[v] === c && this.visitHashes[2 * v] === hi && this.visitHashes[2 * v + 1] === lo) return;
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
    return this.keys.byteLength * 3 + this.bytes.byteLength + this.#cells.byteLength + this.visitCells.byteLength * 3 + this.#visits.byteLength;
  }

  /** Empties it for another batch, keeping its arrays. */
  clear(): void {
    this.#unhashed = false;
    this.#cells.fill(0);
    this.#visits.fill(0);
    this.size = 0;
    this.visits = 0;
  }

  #growCells(): void {
    const n = this.keys.length * 2;
    const grow = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.keys = grow(this.keys);
    this.codes = grow(this.codes);
    this.counts = grow(this.counts);
    const bytes = new Float64Array(n);
    bytes.set(this.bytes);
    this.bytes = bytes;
  }

  #growVisits(): void {
    const n = this.visitCells.length * 2;
    const cells = new Int32Array(n);
    cells.set(this.visitCells);
    const hashes = new Int32Array(2 * n);
    hashes.set(this.visitHashes);
    this.visitCells = cells;
    this.visitHashes = hashes;
  }

  /** The hash of every cell, after `append`s. */
  #rehashAll(): void {
    this.#unhashed = false;
    let cap = this.#cells.length;
    while (this.size * 2 > cap) cap *= 2;
    this.#cells = new Int32Array(cap / 2);
    this.#rehashCells();
  }

  #rehashCells(): void {
    const cap = this.#cells.length * 2;
    const table = (this.#cells = new Int32Array(cap));
    const mask = (this.#cellMask = cap - 1);
    for (let i = 0; i < this.size; i++) {
      let b = cellHash(this.keys[i]!, this.codes[i]!) & mask;
      while (table[b] !== 0) b = (b + 1) & mask;
      table[b] = i + 1;
    }
  }

  #rehashVisits(): void {
    const cap = this.#visits.length * 2;
    const table = (this.#visits = new Int32Array(cap));
    const mask = (this.#visitMask = cap - 1);
    for (let v = 0; v < this.visits; v++) {
      let b = visitHash(this.visitCells[v]!, this.visitHashes[2 * v]!, this.visitHashes[2 * v + 1]!) & mask;
      while (table[b] !== 0) b = (b + 1) & mask;
      table[b] = v + 1;
    }
  }
}

function cellHash(key: number, code: number): number {
  let h = Math.imul(key, 0x9e3779b1) ^ Math.imul(code, 0x85ebca6b);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) ^ (h >>> 13);
}

function visitHash(c: number, hi: number, lo: number): number {
  // The client's hash is already mixed (fmix32): a multiply for the cell is enough.
  return (Math.imul(c, 0x9e3779b1) ^ hi ^ (lo >>> 7)) >>> 0;
}
