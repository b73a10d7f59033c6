import { HLL_M, hllEstimate, hllRank, hllRegister } from './hyperloglog.js';
import { EXACT_VISITORS, type VisitorSketch } from './visitor-sketch.js';
import { ClientIds } from './client-ids.js';

/** Scratch for the entries a region moves (client, seen). */
let moving = new Int32Array(2 * 64);

/**
 * The slab is a list of chunks of 2^20 entries (8 MB) that no region straddles: it grows by
 * a chunk, not by copying the whole of it into one twice its size (at a million URLs with
 * visitors that was 96 MB copied into 192, both alive at once: the peak RSS's largest step).
 * The first chunk starts small and doubles up to that size.
 */
const CHUNK_LOG = 20;
const CHUNK = 1 << CHUNK_LOG;
const IN_CHUNK = CHUNK - 1;
const FIRST_CHUNK = 4096;

/** A region slot nobody uses (slot numbers are stored as int32, wrapped). */
const EMPTY = -2147483648;
/** Regions up to this many entries are scanned; larger ones are hashed. */
const SCANNED = 8;
/** `#shift` of an id whose visitors are a sketch (no region). */
const SKETCHED = 255;

/**
 * Distinct visitors per id (a cell: a key and a status) in a sliding window of
 * `windowSlots` batch slots. Each visit says: client (hi, lo) came in slot k. An id keeps
 * the last slot each of its clients came in (a "region" of a shared slab: scanned while
 * small, hashed after; a client is there by its small id, `ClientIds`), so its visitors in the window ending at slot e are its clients
 * seen in (e - windowSlots, e]: exact, and nothing to subtract when a slot leaves. Past
 * EXACT_VISITORS clients in the window, an id turns to a sliding HyperLogLog
 * (`SlidingHll`), whose count is an estimate.
 *
 * Slot numbers are kept as int32 (wrapped): an entry is live while its age is under the
 * window, and `sweep` clears old entries often enough that no age comes near 2^31 slots.
 * With `windowSlots` at 2^31 - 1 and every visit in slot 0, nothing expires: the totals of
 * a whole log (`logflow analyze`).
 */
export class WindowVisitors {
  readonly windowSlots: number;
  /** Per id: its region's first entry, its capacity (log2 + 1; 0: no region), entries in use. */
  #at = new Int32Array(1024);
  #shift = new Uint8Array(1024);
  /** (At most 2,048: a region turns to a sketch past 512 live entries; two bytes an id.) */
  #used = new Uint16Array(1024);
  readonly #sketches = new Map<number, SlidingHll>();
  /**
   * The slab, in chunks: per entry the client's id and the slot it was last seen in. An
   * entry's address is chunk * 2^20 + its index in the chunk.
   */
  readonly #clients: Int32Array[] = [new Int32Array(FIRST_CHUNK)];
  readonly #seens: Int32Array[] = [new Int32Array(FIRST_CHUNK)];
  /** The clients the slab's entries hold, by id (each entry holds its client once). */
  readonly #clientIds = new ClientIds();
  #top = 0;
  readonly #free: number[][] = [];
  /** Entries of sketched ids waiting for `enter`'s end: id * 2^18 + register * 64 + rank. */
  #pending = new Float64Array(1024);
  #pendingCount = 0;
  /** Where `sweep` goes on from. */
  #sweepAt = 0;
  readonly #scratch = new Uint8Array(HLL_M);

  constructor(windowSlots: number) {
    this.windowSlots = Math.min(windowSlots, 2 ** 31 - 1);
  }

  /** Entries in the slab's regions (live or not yet cleared): what it costs, 8 bytes each. */
  get entries(): number {
    let n = 0;
    for (let id = 0; id < this.#used.length; id++) n += this.#used[id]!;
    return n;
  }

  /** Bytes held: the slab (allocated, used or free), the per-id arrays, the client ids, the sketches. */
  get heldBytes(): { slab: number; slabUsed: number; ids: number; clients: number; sketches: number } {
    let sketches = 0;
    for (const s of this.#sketches.values()) sketches += s.heldBytes;
    let slab = 0;
    for (const s of this.#seens) slab += s.byteLength * 2;
    return { slab, slabUsed: this.#top * 8, ids: this.#at.byteLength + this.#used.byteLength + this.#shift.byteLength, clients: this.#clientIds.heldBytes, sketches };
  }

  /** Distinct clients the exact entries hold. */
  get clients(): number {
    return this.#clientIds.size;
  }

  /** Ids whose visitors are estimated. */
  get sketched(): number {
    return this.#sketches.size;
  }

  /** Whether `id`'s visitors are counted exactly. */
  exact(id: number): boolean {
    return !this.#sketches.has(id);
  }

  /**
   * Visits entering in slot `k`: `hashes[2i], hashes[2i+1]` came for `ids[i]`, i < n. Call
   * once per slot, slots in increasing order.
   */
  enter(k: number, ids: Int32Array, hashes: Int32Array, n: number): void {
    const slot = k | 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      const hi = hashes[2 * i]!;
      const lo = hashes[2 * i + 1]!;
      if (id < this.#shift.length && this.#shift[id] === SKETCHED) this.#pend(id, hi, lo);
      else this.#add(id, hi, lo, slot);
    }
    this.#flushPending(slot);
  }

  /**
   * Visits of slot `k`, older than `now` (the newest slot entered) and still in the window:
   * a batch reopened after an early firing (event time). A client seen since keeps its
   * newer slot; a sketched id's entry goes where its slot puts it.
   */
  enterOlder(k: number, ids: Int32Array, hashes: Int32Array, n: number, now: number): void {
    const slot = k | 0;
    const current = now | 0;
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      const hi = hashes[2 * i]!;
      const lo = hashes[2 * i + 1]!;
      if (id < this.#shift.length && this.#shift[id] === SKETCHED) this.#sketches.get(id)!.insert(slot, hllRegister(hi), hllRank(hi, lo), current);
      else this.#add(id, hi, lo, slot, current);
    }
    // Ids that turned to sketches on the way: their pending entries are of slot `k`.
    for (let i = 0; i < this.#pendingCount; i++) {
      const e = this.#pending[i]!;
      const id = Math.floor(e / 2 ** 18);
      this.#sketches.get(id)!.insert(slot, (e % 2 ** 18) >> 6, e % 64, current);
    }
    this.#pendingCount = 0;
  }

  /** Visitors of `id` in the window ending with slot `e` (its slots e - windowSlots + 1 .. e). */
  count(id: number, e: number): number {
    const sketch = this.#sketches.get(id);
    if (sketch) {
      this.#scratch.fill(0);
      sketch.registersInto(this.#scratch, e | 0, this.windowSlots);
      return Math.round(hllEstimate(this.#scratch));
    }
    const log = id < this.#shift.length ? this.#shift[id]! : 0;
    if (log === 0) return 0;
    const region = this.#at[id]!;
    const seen = this.#seens[region >>> CHUNK_LOG]!;
    const at = region & IN_CHUNK;
    const end = at + (log - 1 <= 3 ? this.#used[id]! : 1 << (log - 1));
    const slot = e | 0;
    let n = 0;
    for (let p = at; p < end; p++) if (this.#live(seen[p]!, slot)) n++;
    return n;
  }

  /** Adds `id`'s visitors in the window ending with slot `e` to `into` (a union over ids: a URL's statuses). */
  unionInto(id: number, e: number, into: VisitorSketch): void {
    const sketch = this.#sketches.get(id);
    if (sketch) {
      // (Max-combined straight into the union's registers: a slide's top unions hundreds of these.)
      sketch.registersInto(into.sketchRegisters(), e | 0, this.windowSlots);
      return;
    }
    const log = id < this.#shift.length ? this.#shift[id]! : 0;
    if (log === 0) return;
    const region = this.#at[id]!;
    const client = this.#clients[region >>> CHUNK_LOG]!;
    const seen = this.#seens[region >>> CHUNK_LOG]!;
    const at = region & IN_CHUNK;
    const end = at + (log - 1 <= 3 ? this.#used[id]! : 1 << (log - 1));
    const slot = e | 0;
    const clients = this.#clientIds;
    for (let p = at; p < end; p++) {
      if (this.#live(seen[p]!, slot)) into.add(clients.hi(client[p]!), clients.lo(client[p]!));
    }
  }

  /** Forgets `id` (its key left the window). */
  release(id: number): void {
    this.#sketches.delete(id);
    if (id >= this.#shift.length) return;
    const shift = this.#shift[id]!;
    if (shift > 0 && shift !== SKETCHED) {
      this.#unholdRegion(id);
      this.#freeRegion(this.#at[id]!, shift);
    }
    this.#shift[id] = 0;
    this.#used[id] = 0;
  }

  /**
   * Clears entries that left the window ending with slot `e`, in up to `maxIds` regions (on
   * from where the last call stopped): memory of clients gone, and no entry lives long
   * enough for its wrapped slot number to look new again.
   */
  sweep(e: number, maxIds: number): void {
    if (this.windowSlots === 2 ** 31 - 1) return; // (nothing ever leaves)
    const limit = this.#shift.length;
    const slot = e | 0;
    for (let n = 0; n < maxIds && n < limit; n++) {
      const id = this.#sweepAt;
      this.#sweepAt = id + 1 >= limit ? 0 : id + 1;
      const shift = this.#shift[id];
      if (shift === SKETCHED) this.#sketches.get(id)!.prune(slot, this.windowSlots);
      else if (shift !== 0) this.#purge(id, slot);
    }
  }

  #live(seen: number, slot: number): boolean {
    const age = (slot - seen) | 0;
    return seen !== EMPTY && age >= 0 && age < this.windowSlots;
  }

  /** Client (hi, lo) seen for `id` in slot `slot`; `now`: the newest slot entered (`slot` but for `enterOlder`). */
  #add(id: number, hi: number, lo: number, slot: number, now = slot): void {
    if (id >= this.#shift.length) this.#growIds(id);
    let log = this.#shift[id]!;
    if (log === 0) {
      this.#place(id, 1);
      log = 1;
    }
    const clients = this.#clientIds;
    for (;;) {
      // (-1: no entry anywhere holds the client, so none of this id's does. Looked up again
      // after a rebuild below: the entries it cleared may have held the client's last.)
      const c = clients.find(hi, lo);
      const cap = 1 << (log - 1);
      const region = this.#at[id]!;
      const client = this.#clients[region >>> CHUNK_LOG]!;
      const seen = this.#seens[region >>> CHUNK_LOG]!;
      const at = region & IN_CHUNK;
      if (cap <= SCANNED) {
        const used = this.#used[id]!;
        if (c >= 0) {
          for (let p = at; p < at + used; p++) {
            if (client[p] === c) {
              if (((slot - seen[p]!) | 0) > 0) seen[p] = slot;
              return;
            }
          }
        }
        if (used < cap) {
          const p = at + used;
          client[p] = c < 0 ? clients.add(hi, lo) : c;
          if (c >= 0) clients.hold(c);
          seen[p] = slot;
          this.#used[id] = used + 1;
          return;
        }
      } else {
        const mask = cap - 1;
        if (c >= 0) {
          for (let s = slotOf(c) & mask; ; s = (s + 1) & mask) {
            const p = at + s;
            if (seen[p] === EMPTY) break;
            if (client[p] === c) {
              if (((slot - seen[p]!) | 0) > 0) seen[p] = slot;
              return;
            }
          }
        }
        if ((this.#used[id]! + 1) * 4 <= cap * 3) {
          const held = c < 0 ? clients.add(hi, lo) : c;
          if (c >= 0) clients.hold(c);
          let s = slotOf(held) & mask;
          while (seen[at + s] !== EMPTY) s = (s + 1) & mask;
          client[at + s] = held;
          seen[at + s] = slot;
          this.#used[id]!++;
          return;
        }
        // full: rebuild below
      }
      // Full: clear what left the window; too many live clients turn the id to a sketch;
      // otherwise a region twice as large if it is still more than half full.
      const live = this.#purge(id, now);
      if (live >= EXACT_VISITORS) {
        this.#toSketch(id, now);
        this.#pend(id, hi, lo);
        return;
      }
      log = this.#shift[id]!;
      if (log === 0) {
        // Every entry had left the window.
        this.#place(id, 1);
        log = 1;
        continue;
      }
      const capNow = 1 << (log - 1);
      if (capNow <= SCANNED ? live >= capNow : live * 2 >= capNow) {
        this.#resize(id, log + 1, now);
        log++;
      }
    }
  }

  /** Removes the entries of `id` that left the window; returns the live ones left. */
  #purge(id: number, slot: number): number {
    const log = this.#shift[id]!;
    const cap = 1 << (log - 1);
    const region = this.#at[id]!;
    const client = this.#clients[region >>> CHUNK_LOG]!;
    const seen = this.#seens[region >>> CHUNK_LOG]!;
    const at = region & IN_CHUNK;
    if (cap <= SCANNED) {
      let w = at;
      const used = this.#used[id]!;
      for (let p = at; p < at + used; p++) {
        if (!this.#live(seen[p]!, slot)) {
          this.#clientIds.drop(client[p]!);
          continue;
        }
        if (w !== p) {
          client[w] = client[p]!;
          seen[w] = seen[p]!;
        }
        w++;
      }
      this.#used[id] = w - at;
      if (w === at) this.#drop(id);
      return w - at;
    }
    let live = 0;
    for (let p = at; p < at + cap; p++) if (this.#live(seen[p]!, slot)) live++;
    if (live === this.#used[id]) return live;
    if (live === 0) {
      this.#unholdRegion(id);
      this.#drop(id);
      return 0;
    }
    // Rehash the live ones in place of the same size (or smaller, when few are left).
    let target = log;
    while (target > 1 && (1 << (target - 2)) >= live * 2 && (1 << (target - 2)) > SCANNED / 2) target--;
    this.#resize(id, target, slot);
    return live;
  }

  /** The clients of `id`'s entries are no longer held by them (the region is given up next). */
  #unholdRegion(id: number): void {
    const log = this.#shift[id]!;
    const region = this.#at[id]!;
    const client = this.#clients[region >>> CHUNK_LOG]!;
    const seen = this.#seens[region >>> CHUNK_LOG]!;
    const at = region & IN_CHUNK;
    const end = at + (1 << (log - 1) <= SCANNED ? this.#used[id]! : 1 << (log - 1));
    for (let p = at; p < end; p++) if (seen[p] !== EMPTY) this.#clientIds.drop(client[p]!);
  }

  /** An id with no entry left gives its region back. */
  #drop(id: number): void {
    this.#freeRegion(this.#at[id]!, this.#shift[id]!);
    this.#shift[id] = 0;
    this.#used[id] = 0;
  }

  /** Moves `id`'s live entries into a new region of capacity 2^(shift-1). */
  #resize(id: number, shift: number, slot: number): void {
    const oldShift = this.#shift[id]!;
    const oldRegion = this.#at[id]!;
    const oldClient = this.#clients[oldRegion >>> CHUNK_LOG]!;
    const oldSeen = this.#seens[oldRegion >>> CHUNK_LOG]!;
    const oldAt = oldRegion & IN_CHUNK;
    const oldEnd = oldAt + (1 << (oldShift - 1) <= SCANNED ? this.#used[id]! : 1 << (oldShift - 1));
    // Copy the live entries out first: the new region may be given where the old one was.
    let n = 0;
    if (moving.length < 2 * (oldEnd - oldAt)) moving = new Int32Array(4 * (oldEnd - oldAt));
    for (let p = oldAt; p < oldEnd; p++) {
      if (!this.#live(oldSeen[p]!, slot)) {
        if (oldSeen[p] !== EMPTY) this.#clientIds.drop(oldClient[p]!);
        continue;
      }
      moving[2 * n] = oldClient[p]!;
      moving[2 * n + 1] = oldSeen[p]!;
      n++;
    }
    this.#freeRegion(oldRegion, oldShift);
    this.#place(id, shift);
    const region = this.#at[id]!;
    const client = this.#clients[region >>> CHUNK_LOG]!;
    const seen = this.#seens[region >>> CHUNK_LOG]!;
    const at = region & IN_CHUNK;
    const cap = 1 << (shift - 1);
    if (cap <= SCANNED) {
      for (let i = 0; i < n; i++) {
        client[at + i] = moving[2 * i]!;
        seen[at + i] = moving[2 * i + 1]!;
      }
      this.#used[id] = n;
      return;
    }
    const mask = cap - 1;
    for (let i = 0; i < n; i++) {
      const c = moving[2 * i]!;
      let s = slotOf(c) & mask;
      while (seen[at + s] !== EMPTY) s = (s + 1) & mask;
      client[at + s] = c;
      seen[at + s] = moving[2 * i + 1]!;
    }
    this.#used[id] = n;
  }

  /** Gives `id` an empty region of capacity 2^(log-1). */
  #place(id: number, log: number): void {
    const cap = 1 << (log - 1);
    const free = this.#free[log];
    let at = free?.pop();
    if (at === undefined) {
      this.#makeRoom(cap);
      at = this.#top;
      this.#top += cap;
    }
    const local = at & IN_CHUNK;
    this.#seens[at >>> CHUNK_LOG]!.fill(EMPTY, local, local + cap);
    this.#at[id] = at;
    this.#shift[id] = log;
    this.#used[id] = 0;
  }

  #freeRegion(at: number, log: number): void {
    (this.#free[log] ??= []).push(at);
  }

  /** Room for a region of `cap` entries at `#top`: the first chunk doubles up to CHUNK; then a chunk more. */
  #makeRoom(cap: number): void {
    const c = this.#top >>> CHUNK_LOG;
    const local = this.#top & IN_CHUNK;
    if (c === this.#seens.length) {
      // (The last chunk was filled to its end.)
      this.#seens.push(new Int32Array(CHUNK));
      this.#clients.push(new Int32Array(CHUNK));
      return;
    }
    const seen = this.#seens[c]!;
    if (local + cap <= seen.length) return;
    if (seen.length < CHUNK) {
      let n = seen.length * 2;
      while (n < local + cap && n < CHUNK) n *= 2;
      const grownSeen = new Int32Array(n);
      grownSeen.set(seen);
      const grownClient = new Int32Array(n);
      grownClient.set(this.#clients[c]!);
      this.#seens[c] = grownSeen;
      this.#clients[c] = grownClient;
      if (local + cap <= n) return;
    }
    // The rest of this chunk, as regions of the sizes that fit, for the free lists.
    let at = this.#top;
    for (let rest = CHUNK - local; rest > 0;) {
      const log = 31 - Math.clz32(rest);
      this.#freeRegion(at, log + 1);
      at += 1 << log;
      rest -= 1 << log;
    }
    this.#top = (c + 1) * CHUNK;
    this.#seens.push(new Int32Array(CHUNK));
    this.#clients.push(new Int32Array(CHUNK));
  }

  #growIds(id: number): void {
    let n = this.#shift.length * 2;
    while (n <= id) n *= 2;
    const at = new Int32Array(n);
    at.set(this.#at);
    const log = new Uint8Array(n);
    log.set(this.#shift);
    const used = new Uint16Array(n);
    used.set(this.#used);
    this.#at = at;
    this.#shift = log;
    this.#used = used;
  }

  /** Turns `id`'s exact set into a sliding HyperLogLog, with each client's last slot. */
  #toSketch(id: number, slot: number): void {
    const log = this.#shift[id]!;
    const region = this.#at[id]!;
    const client = this.#clients[region >>> CHUNK_LOG]!;
    const seens = this.#seens[region >>> CHUNK_LOG]!;
    const at = region & IN_CHUNK;
    const end = at + (1 << (log - 1) <= SCANNED ? this.#used[id]! : 1 << (log - 1));
    const entries: number[] = [];
    const clients = this.#clientIds;
    for (let p = at; p < end; p++) {
      const seen = seens[p]!;
      if (!this.#live(seen, slot)) continue;
      const hi = clients.hi(client[p]!);
      const lo = clients.lo(client[p]!);
      const age = (slot - seen) | 0;
      // Oldest first within a register: register * 2^32 + (2^31 - age).
      entries.push(hllRegister(hi) * 2 ** 38 + (2 ** 31 - age) * 64 + hllRank(hi, lo));
    }
    this.#unholdRegion(id);
    this.#drop(id);
    this.#shift[id] = SKETCHED;
    entries.sort((a, b) => a - b);
    this.#sketches.set(id, SlidingHll.fromSorted(entries, slot));
  }

  #pend(id: number, hi: number, lo: number): void {
    if (this.#pendingCount === this.#pending.length) {
      const grown = new Float64Array(this.#pending.length * 2);
      grown.set(this.#pending);
      this.#pending = grown;
    }
    this.#pending[this.#pendingCount++] = id * 2 ** 18 + hllRegister(hi) * 64 + hllRank(hi, lo);
  }

  /** Merges the pending entries of sketched ids, one pass per id. */
  #flushPending(slot: number): void {
    const n = this.#pendingCount;
    if (n === 0) return;
    const pending = this.#pending.subarray(0, n).sort();
    let i = 0;
    while (i < n) {
      const id = Math.floor(pending[i]! / 2 ** 18);
      let j = i;
      while (j < n && Math.floor(pending[j]! / 2 ** 18) === id) j++;
      this.#sketches.get(id)!.merge(slot, pending, i, j, this.windowSlots);
      i = j;
    }
    this.#pendingCount = 0;
  }
}

/** A client id's place in a hashed region (ids are small and dense: a multiplicative spread). */
function slotOf(client: number): number {
  return Math.imul(client, 0x9e3779b1);
}

/**
 * A HyperLogLog over a sliding window (Chabchoub and Hébrail's "Sliding HyperLogLog"): per
 * register, the list of (slot, rank) that may yet be its largest rank in some future window
 * ("possible future maxima": ranks fall as slots grow; an entry is dropped once a newer one
 * ranks as high). The window's register is the rank of its oldest entry still inside it.
 * Entries are kept sorted by register then slot, in two arrays: a slot's new entries merge
 * in one pass.
 */
export class SlidingHll {
  /** register * 64 + rank. */
  #rr: Int32Array;
  /** The slot (int32, wrapped) each entry was seen in. */
  #seen: Int32Array;
  #n: number;
  /** The arrays the next merge writes into (then swapped): no allocation per merge. */
  #nextRr: Int32Array;
  #nextSeen: Int32Array;

  private constructor(rr: Int32Array, seen: Int32Array, n: number) {
    this.#rr = rr;
    this.#seen = seen;
    this.#n = n;
    this.#nextRr = new Int32Array(rr.length);
    this.#nextSeen = new Int32Array(rr.length);
  }

  get size(): number {
    return this.#n;
  }

  get heldBytes(): number {
    return 2 * (this.#rr.byteLength + this.#nextRr.byteLength);
  }

  /**
   * From entries `register * 2^38 + (2^31 - age) * 64 + rank`, sorted ascending (within a
   * register the oldest first), as seen from slot `slot`.
   */
  static fromSorted(entries: readonly number[], slot: number): SlidingHll {
    const rr = new Int32Array(Math.max(16, entries.length));
    const seen = new Int32Array(rr.length);
    let o = 0;
    let reg = -1;
    let start = 0;
    for (const x of entries) {
      const r = Math.floor(x / 2 ** 38);
      const age = 2 ** 31 - Math.floor((x % 2 ** 38) / 64);
      const rank = x % 64;
      if (r !== reg) {
        reg = r;
        start = o;
      }
      while (o > start && (rr[o - 1]! & 63) <= rank) o--;
      rr[o] = (r << 6) | rank;
      seen[o] = (slot - age) | 0;
      o++;
    }
    return new SlidingHll(rr, seen, o);
  }

  /** Adds `pending[from, to)` (`id * 2^18 + register * 64 + rank`, sorted), all seen in `slot`. */
  merge(slot: number, pending: Float64Array, from: number, to: number, windowSlots: number): void {
    const n = this.#n;
    const cap = n + (to - from);
    if (cap > this.#nextRr.length) {
      this.#nextRr = new Int32Array(cap * 2);
      this.#nextSeen = new Int32Array(cap * 2);
    }
    const rr = this.#nextRr;
    const seen = this.#nextSeen;
    const oldRr = this.#rr;
    const oldSeen = this.#seen;
    let i = 0;
    let j = from;
    let o = 0;
    while (j < to) {
      const reg = (pending[j]! % 2 ** 18) >> 6;
      // The registers up to this one's, copied as they are: a slot brings a few hundred
      // entries to a list of thousands (a slide's profile at 1M URLs: this merge, entry by
      // entry, was 89 of the visitors' 149 ms). Their entries that left the window stay
      // until `prune` (the sweep's): `registersInto` passes over them.
      let lo = i;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (oldRr[mid]! >> 6 < reg) lo = mid + 1;
        else hi = mid;
      }
      if (lo > i) {
        rr.set(oldRr.subarray(i, lo), o);
        seen.set(oldSeen.subarray(i, lo), o);
        o += lo - i;
        i = lo;
      }
      const start = o;
      for (; i < n && oldRr[i]! >> 6 === reg; i++) {
        const age = (slot - oldSeen[i]!) | 0;
        if (age < 0 || age >= windowSlots) continue;
        rr[o] = oldRr[i]!;
        seen[o] = oldSeen[i]!;
        o++;
      }
      let rank = 0;
      for (; j < to && (pending[j]! % 2 ** 18) >> 6 === reg; j++) rank = Math.max(rank, pending[j]! % 64);
      while (o > start && (rr[o - 1]! & 63) <= rank) o--;
      rr[o] = (reg << 6) | rank;
      seen[o] = slot;
      o++;
    }
    if (i < n) {
      rr.set(oldRr.subarray(i, n), o);
      seen.set(oldSeen.subarray(i, n), o);
      o += n - i;
    }
    this.#nextRr = this.#rr;
    this.#nextSeen = this.#seen;
    this.#rr = rr;
    this.#seen = seen;
    this.#n = o;
  }

  /**
   * Adds one entry seen in `slot`, which may be older than the newest (`now`): a register's
   * list stays oldest first with ranks falling. Skipped when a newer (or as new) entry ranks
   * as high; older entries ranking no higher are dropped.
   */
  insert(slot: number, register: number, rank: number, now: number): void {
    const n = this.#n;
    const rr = this.#rr;
    const seen = this.#seen;
    let a = 0;
    while (a < n && rr[a]! >> 6 < register) a++;
    let b = a;
    while (b < n && rr[b]! >> 6 === register) b++;
    const age = (now - slot) | 0;
    for (let i = a; i < b; i++) if (((now - seen[i]!) | 0) <= age && (rr[i]! & 63) >= rank) return;
    const kept: [number, number][] = [];
    let placed = false;
    for (let i = a; i < b; i++) {
      const ageI = (now - seen[i]!) | 0;
      if (!placed && ageI < age) {
        kept.push([(register << 6) | rank, slot]);
        placed = true;
      }
      if (ageI < age || (rr[i]! & 63) > rank) kept.push([rr[i]!, seen[i]!]);
    }
    if (!placed) kept.push([(register << 6) | rank, slot]);
    const size = n - (b - a) + kept.length;
    const outRr = new Int32Array(Math.max(rr.length, size));
    const outSeen = new Int32Array(outRr.length);
    outRr.set(rr.subarray(0, a));
    outSeen.set(seen.subarray(0, a));
    kept.forEach(([r, s], j) => {
      outRr[a + j] = r;
      outSeen[a + j] = s;
    });
    outRr.set(rr.subarray(b, n), a + kept.length);
    outSeen.set(seen.subarray(b, n), a + kept.length);
    this.#rr = outRr;
    this.#seen = outSeen;
    this.#n = size;
    if (this.#nextRr.length < outRr.length) {
      this.#nextRr = new Int32Array(outRr.length);
      this.#nextSeen = new Int32Array(outRr.length);
    }
  }

  /** Max-combines the window's registers (the window ending with slot `slot`) into `into`. */
  registersInto(into: Uint8Array, slot: number, windowSlots: number): void {
    const rr = this.#rr;
    const seen = this.#seen;
    let reg = -1;
    for (let i = 0; i < this.#n; i++) {
      const r = rr[i]! >> 6;
      if (r === reg) continue; // the oldest live entry of the register was taken
      const age = (slot - seen[i]!) | 0;
      if (age < 0 || age >= windowSlots) continue;
      reg = r;
      const rank = rr[i]! & 63;
      if (rank > into[r]!) into[r] = rank;
    }
  }

  /** Drops entries that left the window ending with `slot`. */
  prune(slot: number, windowSlots: number): void {
    let o = 0;
    for (let i = 0; i < this.#n; i++) {
      const age = (slot - this.#seen[i]!) | 0;
      if (age < 0 || age >= windowSlots) continue;
      this.#rr[o] = this.#rr[i]!;
      this.#seen[o] = this.#seen[i]!;
      o++;
    }
    this.#n = o;
  }
}
