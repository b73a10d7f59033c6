/**
 * Gives every distinct URL of the window a small integer id, looked up by the URL's bytes:
 * counting an event costs a hash and a compare, not a string and a Map entry. URLs live as
 * bytes in one arena; a string is made only when one is asked for (the top URLs, a
 * checkpoint), which keeps a million URLs off the JavaScript heap. Ids are released when
 * the window no longer holds their URL and reused; the table shrinks back by
 * backward-shift deletion, so there are no tombstones to pile up.
 */
export class UrlInterner {
  #mask: number;
  /** Bucket -> id + 1 (0 = empty). */
  #buckets: Int32Array;
  #hashes: Int32Array; // by id
  #keyAt: Int32Array; // by id: offset in the arena
  #keyLen: Int32Array; // by id; -1 for a released id
  #allocated = 0;
  #arena: Buffer;
  #arenaUsed = 0;
  #arenaDead = 0;
  readonly #free: number[] = [];
  #size = 0;

  constructor(initialCapacity = 1024) {
    const cap = 1 << Math.ceil(Math.log2(Math.max(16, initialCapacity)));
    this.#mask = cap * 2 - 1;
    this.#buckets = new Int32Array(cap * 2);
    this.#hashes = new Int32Array(cap);
    this.#keyAt = new Int32Array(cap);
    this.#keyLen = new Int32Array(cap);
    this.#arena = Buffer.allocUnsafe(cap * 32);
  }

  /** Live ids. */
  get size(): number {
    return this.#size;
  }

  /** Bytes its arrays and arena hold. */
  get heldBytes(): number {
    return this.#buckets.byteLength + this.#hashes.byteLength * 3 + this.#arena.length;
  }

  /** One more than the largest id ever given: the length arrays indexed by id need. */
  get idLimit(): number {
    return this.#allocated;
  }

  url(id: number): string | undefined {
    const len = this.#keyLen[id]!;
    if (id >= this.#allocated || len < 0) return undefined;
    const at = this.#keyAt[id]!;
    return this.#arena.toString('utf8', at, at + len);
  }

  /** Length in bytes of a live id's URL. */
  byteLength(id: number): number {
    return this.#keyLen[id]!;
  }

  /** Copies a live id's URL bytes into `target` at `at`; returns the end. */
  copyBytes(id: number, target: Buffer, at: number): number {
    const from = this.#keyAt[id]!;
    const len = this.#keyLen[id]!;
    if (len > SHORT_COPY) return at + this.#arena.copy(target, at, from, from + len);
    // A URL is mostly a few dozen bytes: a loop beats Buffer.copy's call into C++ (cpu profile
    // of an event-time replay, watermark 7200: Buffer.copy under encodeInterned was 146 ms of
    // the job thread's 4.8 s; per copy, Node 20: 16 bytes ~90-170 ns by Buffer.copy, 25-50 ns by
    // this loop; 32 bytes ~80 vs ~60 ns; they cross at about 50 bytes).
    const arena = this.#arena;
    for (let i = 0; i < len; i++) target[at + i] = arena[from + i]!;
    return at + len;
  }

  /** Byte order of two live ids' URLs (which is code point order): <0, 0 or >0. */
  compare(a: number, b: number): number {
    const arena = this.#arena;
    const la = this.#keyLen[a]!;
    const lb = this.#keyLen[b]!;
    const pa = this.#keyAt[a]!;
    const pb = this.#keyAt[b]!;
    const n = Math.min(la, lb);
    for (let i = 0; i < n; i++) {
      const d = arena[pa + i]! - arena[pb + i]!;
      if (d !== 0) return d;
    }
    return la - lb;
  }

  /** The id of the URL `buf[start, end)`, interning it if it is new. */
  id(buf: Buffer, start: number, end: number): number {
    const len = end - start;
    let h = 0x811c9dc5; // FNV-1a
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    const buckets = this.#buckets;
    const mask = this.#mask;
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const slot = buckets[b]!;
      if (slot === 0) return this.#insert(b, h, buf, start, len);
      const id = slot - 1;
      if (this.#hashes[id] === h && this.#keyLen[id] === len && this.#keyEquals(this.#keyAt[id]!, buf, start, len)) return id;
    }
  }

  idOfString(url: string): number {
    const bytes = Buffer.from(url, 'utf8');
    return this.id(bytes, 0, bytes.length);
  }

  /** Forgets an id: its URL is no longer in the window or any open batch. */
  release(id: number): void {
    const mask = this.#mask;
    const buckets = this.#buckets;
    let b = this.#hashes[id]! & mask;
    while (buckets[b] !== id + 1) b = (b + 1) & mask;
    // Backward-shift deletion: pull later members of the probe run into the hole.
    for (let next = (b + 1) & mask; buckets[next] !== 0; next = (next + 1) & mask) {
      const home = this.#hashes[buckets[next]! - 1]! & mask;
      const distHole = (b - home + mask + 1) & mask;
      const distNext = (next - home + mask + 1) & mask;
      if (distHole <= distNext) {
        buckets[b] = buckets[next]!;
        b = next;
      }
    }
    buckets[b] = 0;
    this.#arenaDead += this.#keyLen[id]!;
    this.#keyLen[id] = -1;
    this.#free.push(id);
    this.#size--;
  }

  #keyEquals(at: number, buf: Buffer, start: number, len: number): boolean {
    const arena = this.#arena;
    for (let i = 0; i < len; i++) if (arena[at + i] !== buf[start + i]) return false;
    return true;
  }

  #insert(bucket: number, h: number, buf: Buffer, start: number, len: number): number {
    let id = this.#free.pop();
    if (id === undefined) {
      id = this.#allocated++;
      if (id >= this.#hashes.length) this.#growIds();
    }
    if (this.#arenaUsed + len > this.#arena.length) this.#growArena(len);
    buf.copy(this.#arena, this.#arenaUsed, start, start + len);
    this.#keyAt[id] = this.#arenaUsed;
    this.#keyLen[id] = len;
    this.#hashes[id] = h;
    this.#arenaUsed += len;
    this.#buckets[bucket] = id + 1;
    if (++this.#size * 2 > this.#buckets.length) this.#rehash();
    return id;
  }

  #growIds(): void {
    const n = this.#hashes.length * 2;
    const grow = (a: Int32Array) => {
      const b = new Int32Array(n);
      b.set(a);
      return b;
    };
    this.#hashes = grow(this.#hashes);
    this.#keyAt = grow(this.#keyAt);
    this.#keyLen = grow(this.#keyLen);
  }

  /** Grows the arena, or compacts it when most of it belongs to released URLs. */
  #growArena(need: number): void {
    const live = this.#arenaUsed - this.#arenaDead;
    const size = Math.max(this.#arena.length * (live * 2 > this.#arena.length ? 2 : 1), live + need + 1024);
    const next = Buffer.allocUnsafe(size);
    let at = 0;
    for (let id = 0; id < this.#allocated; id++) {
      if (this.#keyLen[id]! < 0) continue;
      const from = this.#keyAt[id]!;
      const len = this.#keyLen[id]!;
      this.#arena.copy(next, at, from, from + len);
      this.#keyAt[id] = at;
      at += len;
    }
    this.#arena = next;
    this.#arenaUsed = at;
    this.#arenaDead = 0;
  }

  #rehash(): void {
    const cap = this.#buckets.length * 2;
    this.#mask = cap - 1;
    this.#buckets = new Int32Array(cap);
    for (let id = 0; id < this.#allocated; id++) {
      if (this.#keyLen[id]! < 0) continue;
      let b = this.#hashes[id]! & this.#mask;
      while (this.#buckets[b] !== 0) b = (b + 1) & this.#mask;
      this.#buckets[b] = id + 1;
    }
  }
}

/** URLs up to this many bytes are copied by a loop, longer ones by Buffer.copy. */
const SHORT_COPY = 48;
