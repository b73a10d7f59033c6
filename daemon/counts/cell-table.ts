/**
 * Ids for cells, the (key, status) pairs a dimension counts by: `/api/top?by=url&status=404`
 * sums the 404 cells of each URL, the unfiltered top all of them. A cell is found by its
 * key id and status code (a hash of two integers: no bytes compared), and each key's cells
 * are linked, so a key's statuses are found without a scan.
 */
export class CellTable {
  /** Bucket -> cell + 1 (0: empty). */
  #buckets = new Int32Array(2048);
  #mask = 2047;
  #keyOf = new Int32Array(1024);
  /** (A status, 0 to 999: two bytes a cell.) */
  #codeOf = new Uint16Array(1024);
  /** The next cell of the same key (-1: the last). */
  #next = new Int32Array(1024);
  /** Key id -> its first cell (-1: none). */
  #head = new Int32Array(1024).fill(-1);
  #allocated = 0;
  #size = 0;
  readonly #free: number[] = [];

  /** Live cells. */
  get size(): number {
    return this.#size;
  }

  /** Bytes its arrays hold. */
  get heldBytes(): number {
    return this.#buckets.byteLength + this.#keyOf.byteLength * 2 + this.#codeOf.byteLength + this.#head.byteLength + this.#free.length * 8;
  }

  /** One more than the largest cell id given: the length arrays by cell need. */
  get idLimit(): number {
    return this.#allocated;
  }

  keyOf(cell: number): number {
    return this.#keyOf[cell]!;
  }

  codeOf(cell: number): number {
    return this.#codeOf[cell]!;
  }

  /** The first cell of `key`, or -1; then `nextOfKey` until -1. */
  firstOfKey(key: number): number {
    return key < this.#head.length ? this.#head[key]! : -1;
  }

  nextOfKey(cell: number): number {
    return this.#next[cell]!;
  }

  /** The cell of (key, code), made if new. */
  id(key: number, code: number): number {
    const mask = this.#mask;
    const buckets = this.#buckets;
    for (let b = hash(key, code) & mask; ; b = (b + 1) & mask) {
      const slot = buckets[b]!;
      if (slot === 0) return this.#insert(b, key, code);
      const cell = slot - 1;
      if (this.#keyOf[cell] === key && this.#codeOf[cell] === code) return cell;
    }
  }

  /** The cell of (key, code), or -1. */
  find(key: number, code: number): number {
    const mask = this.#mask;
    for (let b = hash(key, code) & mask; ; b = (b + 1) & mask) {
      const slot = this.#buckets[b]!;
      if (slot === 0) return -1;
      const cell = slot - 1;
      if (this.#keyOf[cell] === key && this.#codeOf[cell] === code) return cell;
    }
  }

  /** Forgets a cell; returns whether its key has no cell left. */
  release(cell: number): boolean {
    const key = this.#keyOf[cell]!;
    const code = this.#codeOf[cell]!;
    const mask = this.#mask;
    const buckets = this.#buckets;
    let b = hash(key, code) & mask;
    while (buckets[b] !== cell + 1) b = (b + 1) & mask;
    // Backward-shift deletion, as the interner does: no tombstones.
    for (let next = (b + 1) & mask; buckets[next] !== 0; next = (next + 1) & mask) {
      const other = buckets[next]! - 1;
      const home = hash(this.#keyOf[other]!, this.#codeOf[other]!) & mask;
      if (((b - home + mask + 1) & mask) <= ((next - home + mask + 1) & mask)) {
        buckets[b] = buckets[next]!;
        b = next;
      }
    }
    buckets[b] = 0;
    // Unlink from the key's list.
    let prev = -1;
    for (let c = this.#head[key]!; c !== cell; c = this.#next[c]!) prev = c;
    if (prev < 0) this.#head[key] = this.#next[cell]!;
    else this.#next[prev] = this.#next[cell]!;
    this.#keyOf[cell] = -1;
    this.#free.push(cell);
    this.#size--;
    return this.#head[key] === -1;
  }

  #insert(bucket: number, key: number, code: number): number {
    let cell = this.#free.pop();
    if (cell === undefined) {
      cell = this.#allocated++;
      if (cell >= this.#keyOf.length) this.#growCells();
    }
    if (key >= this.#head.length) this.#growKeys(key);
    this.#keyOf[cell] = key;
    this.#codeOf[cell] = code;
    this.#next[cell] = this.#head[key]!;
    this.#head[key] = cell;
    this.#buckets[bucket] = cell + 1;
    if (++this.#size * 2 > this.#buckets.length) this.#rehash();
    return cell;
  }

  #growCells(): void {
    const n = this.#keyOf.length * 2;
    const grow = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.#keyOf = grow(this.#keyOf);
    const codeOf = new Uint16Array(n);
    codeOf.set(this.#codeOf);
    this.#codeOf = codeOf;
    this.#next = grow(this.#next);
  }

  #growKeys(key: number): void {
    let n = this.#head.length * 2;
    while (n <= key) n *= 2;
    const head = new Int32Array(n).fill(-1);
    head.set(this.#head);
    this.#head = head;
  }

  #rehash(): void {
    const cap = this.#buckets.length * 2;
    this.#mask = cap - 1;
    this.#buckets = new Int32Array(cap);
    for (let cell = 0; cell < this.#allocated; cell++) {
      if (this.#keyOf[cell] === -1) continue;
      let b = hash(this.#keyOf[cell]!, this.#codeOf[cell]!) & this.#mask;
      while (this.#buckets[b] !== 0) b = (b + 1) & this.#mask;
      this.#buckets[b] = cell + 1;
    }
  }
}

function hash(key: number, code: number): number {
  let h = Math.imul(key, 0x9e3779b1) ^ Math.imul(code + 1, 0x85ebca6b);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) ^ (h >>> 13);
}
