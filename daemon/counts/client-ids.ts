/**
 * Small ids for the clients (64-bit hashes) a window's visitor store holds, so that each of
 * its entries keeps a 4-byte id instead of the 8-byte hash (at a million URLs with visitors,
 * 6.9M entries: 12 -> 8 bytes each, the store's 120 MB -> 80 MB). An id is counted by the
 * entries that hold it and given back when the last one goes, so the table holds the
 * clients of the window, not every client ever seen; a client costs ~20 bytes here, once,
 * however many of the window's cells it visited.
 */
export class ClientIds {
  #mask: number;
  /** Bucket -> id + 1 (0 = empty). */
  #buckets: Int32Array;
  #hi: Int32Array;
  #lo: Int32Array;
  /** Entries holding the id; 0: the id is free. */
  #refs: Int32Array;
  #allocated = 0;
  #free: Int32Array;
  #freeCount = 0;
  #size = 0;

  constructor(initialCapacity = 1024) {
    const cap = 1 << Math.ceil(Math.log2(Math.max(16, initialCapacity)));
    this.#mask = cap * 2 - 1;
    this.#buckets = new Int32Array(cap * 2);
    this.#hi = new Int32Array(cap);
    this.#lo = new Int32Array(cap);
    this.#refs = new Int32Array(cap);
    this.#free = new Int32Array(cap);
  }

  /** Clients held. */
  get size(): number {
    return this.#size;
  }

  get heldBytes(): number {
    return this.#buckets.byteLength + this.#hi.byteLength * 4;
  }

  hi(id: number): number {
    return this.#hi[id]!;
  }

  lo(id: number): number {
    return this.#lo[id]!;
  }

  /** The id of client (hi, lo), or -1 when no entry holds it. */
  find(hi: number, lo: number): number {
    const buckets = this.#buckets;
    const mask = this.#mask;
    for (let b = bucketOf(hi, lo) & mask; ; b = (b + 1) & mask) {
      const slot = buckets[b]!;
      if (slot === 0) return -1;
      if (this.#hi[slot - 1] === hi && this.#lo[slot - 1] === lo) return slot - 1;
    }
  }

  /** A new id for client (hi, lo) (which `find` did not find), held once. */
  add(hi: number, lo: number): number {
    let id: number;
    if (this.#freeCount > 0) id = this.#free[--this.#freeCount]!;
    else {
      id = this.#allocated++;
      if (id >= this.#hi.length) this.#growIds();
    }
    this.#hi[id] = hi;
    this.#lo[id] = lo;
    this.#refs[id] = 1;
    if (++this.#size * 2 > this.#buckets.length) this.#rehash();
    else this.#place(id);
    return id;
  }

  /** One more entry holds `id`. */
  hold(id: number): void {
    this.#refs[id]!++;
  }

  /** An entry holding `id` is gone; the last one gives the id back. */
  drop(id: number): void {
    if (--this.#refs[id]! > 0) return;
    const mask = this.#mask;
    const buckets = this.#buckets;
    let b = bucketOf(this.#hi[id]!, this.#lo[id]!) & mask;
    while (buckets[b] !== id + 1) b = (b + 1) & mask;
    // Backward-shift deletion (as the URL interner's): no tombstones.
    for (let next = (b + 1) & mask; buckets[next] !== 0; next = (next + 1) & mask) {
      const other = buckets[next]! - 1;
      const home = bucketOf(this.#hi[other]!, this.#lo[other]!) & mask;
      if (((b - home + mask + 1) & mask) <= ((next - home + mask + 1) & mask)) {
        buckets[b] = buckets[next]!;
        b = next;
      }
    }
    buckets[b] = 0;
    this.#free[this.#freeCount++] = id;
    this.#size--;
  }

  #place(id: number): void {
    const buckets = this.#buckets;
    const mask = this.#mask;
    let b = bucketOf(this.#hi[id]!, this.#lo[id]!) & mask;
    while (buckets[b] !== 0) b = (b + 1) & mask;
    buckets[b] = id + 1;
  }

  #growIds(): void {
    const n = this.#hi.length * 2;
    const grow = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.#hi = grow(this.#hi);
    this.#lo = grow(this.#lo);
    this.#refs = grow(this.#refs);
    this.#free = grow(this.#free);
  }

  #rehash(): void {
    const cap = this.#buckets.length * 2;
    this.#mask = cap - 1;
    this.#buckets = new Int32Array(cap);
    for (let id = 0; id < this.#allocated; id++) if (this.#refs[id]! > 0) this.#place(id);
  }
}

/** (The hashes are a hash already: their low bits, mixed with the other half.) */
function bucketOf(hi: number, lo: number): number {
  return hi ^ Math.imul(lo, 0x9e3779b1);
}
