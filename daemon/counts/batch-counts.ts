/** Past this many distinct URLs a batch indexes its ids with a dense array over the id space. */
const DENSE_AFTER = 2048;

/**
 * The counts of a batch still open, by URL id: the ids it counted (`touched`) with their
 * counts (`values`), found by a small hash of ids, or by a dense array over the id space
 * once the batch holds many URLs. Adding is a probe and an increment; closing reads only
 * what the batch holds.
 *
 * Sparse first because event time keeps a batch open per second of log for the whole
 * watermark: with a dense array each (4 bytes per id of the window) 7,200 open batches over
 * 5k URLs took 230 MB, and allocating and growing one per second of log was 1.6 s of a 9.7 s
 * replay of 200k lines (cpu profile).
 */
export class BatchCounts {
  touched = new Int32Array(16);
  values = new Int32Array(16);
  size = 0;
  /** Hash of id + 1 -> index in `touched` (0 = empty slot); while not dense. */
  #keys = new Int32Array(32);
  #at = new Int32Array(32);
  /** id -> index + 1, once dense. */
  #dense: Int32Array | undefined;

  add(id: number, n = 1): void {
    let i = this.indexOf(id);
    if (i < 0) i = this.#append(id);
    this.values[i]! += n;
  }

  has(id: number): boolean {
    return this.indexOf(id) >= 0;
  }

  /** The count of `id` (0 if it has none). */
  count(id: number): number {
    const i = this.indexOf(id);
    return i < 0 ? 0 : this.values[i]!;
  }

  /** Where `id` is in `touched`/`values`, or -1. */
  indexOf(id: number): number {
    const dense = this.#dense;
    if (dense) return id < dense.length ? dense[id]! - 1 : -1;
    const keys = this.#keys;
    const mask = keys.length - 1;
    for (let h = Math.imul(id, 0x9e3779b1) & mask; ; h = (h + 1) & mask) {
      const k = keys[h]!;
      if (k === 0) return -1;
      if (k === id + 1) return this.#at[h]!;
    }
  }

  /** Bytes its arrays hold (what keeping it for reuse costs). */
  get byteLength(): number {
    return this.touched.byteLength * 2 + this.#keys.byteLength * 2 + (this.#dense?.byteLength ?? 0);
  }

  /** Empties it for another batch, keeping its arrays (only what it holds is zeroed). */
  clear(): void {
    const dense = this.#dense;
    if (dense) for (let i = 0; i < this.size; i++) dense[this.touched[i]!] = 0;
    else this.#keys.fill(0);
    this.values.fill(0, 0, this.size);
    this.size = 0;
  }

  #append(id: number): number {
    const i = this.size++;
    if (i === this.touched.length) {
      const t = new Int32Array(i * 2);
      t.set(this.touched);
      this.touched = t;
      const v = new Int32Array(i * 2);
      v.set(this.values);
      this.values = v;
    }
    this.touched[i] = id;
    if (this.#dense) this.#denseSet(id, i);
    else if (this.size > DENSE_AFTER) {
      this.#dense = new Int32Array(1024);
      for (let j = 0; j < this.size; j++) this.#denseSet(this.touched[j]!, j);
    } else {
      if (this.size * 2 > this.#keys.length) this.#rehash(this.#keys.length * 2);
      this.#hashSet(id, i);
    }
    return i;
  }

  #denseSet(id: number, i: number): void {
    let dense = this.#dense!;
    if (id >= dense.length) {
      let n = dense.length * 2;
      while (n <= id) n *= 2;
      const d = new Int32Array(n);
      d.set(dense);
      dense = this.#dense = d;
    }
    dense[id] = i + 1;
  }

  #hashSet(id: number, i: number): void {
    const keys = this.#keys;
    const mask = keys.length - 1;
    let h = Math.imul(id, 0x9e3779b1) & mask;
    while (keys[h] !== 0) h = (h + 1) & mask;
    keys[h] = id + 1;
    this.#at[h] = i;
  }

  #rehash(capacity: number): void {
    this.#keys = new Int32Array(capacity);
    this.#at = new Int32Array(capacity);
    for (let j = 0; j < this.size - 1; j++) this.#hashSet(this.touched[j]!, j);
  }
}
