import { LogflowError } from '../errors.js';
import { BlobReader, encodeBatchBlob } from './batch-blob.js';
import { DimensionBatch } from './dimension-batch.js';
import { DimensionWindow, type DimensionSpec, type DimensionTop, type StatusRange, type StoredCells } from './dimension-window.js';

/** An open batch: one `DimensionBatch` per dimension, in the window's order. */
export class BatchSet {
  readonly dims: DimensionBatch[];

  /** `visitors`: per dimension, whether it counts visitors. */
  constructor(visitors: readonly boolean[]) {
    this.dims = visitors.map((v) => new DimensionBatch(v));
  }

  /** Distinct entries of the first dimension (0: nothing counted). */
  get size(): number {
    return this.dims[0]?.size ?? 0;
  }

  get byteLength(): number {
    return this.dims.reduce((n, d) => n + d.byteLength, 0);
  }

  clear(): void {
    for (const d of this.dims) d.clear();
  }
}

/** A closed slot as the window keeps it. */
interface StoredSlot {
  readonly total: number;
  /** Lines by status: `[code, count]` pairs. */
  readonly codes: Int32Array;
  readonly dims: StoredCells[];
  /** Its counts' bytes, once made (`encodeSlot`), until a checkpoint has written them (`slotSaved`). */
  blob: Buffer | undefined;
  /**
   * The closed batch itself while its bytes are not made yet: they are made when a checkpoint
   * (or a history row) asks for them, after the slide is persisted, not as the slot enters.
   * It stays in the open set meanwhile, so that its keys stay interned.
   */
  batch: BatchSet | undefined;
}

/** Status codes 0 (none) to 999. */
const CODES = 1000;

/**
 * The job's sliding window over every configured dimension: Spark's
 * `reduceByKeyAndWindow(add, subtract, window, slide)` over batch slots, per dimension
 * (`DimensionWindow`), with the window's total and its lines by status. Slot k lives at
 * k % windowSlots; slots enter in increasing order, and the one entering pushes out the
 * one `windowSlots` before it.
 */
export class WindowSet {
  readonly windowSlots: number;
  readonly dims: DimensionWindow[];
  #total = 0;
  readonly #codeCounts = new Float64Array(CODES);
  readonly #ring: (StoredSlot | undefined)[];
  #lastSlot: number | undefined;
  /** Moves whenever the window's counts change: what answers computed from it are valid for. */
  #version = 0;
  /** Open batches: their keys stay interned while they count them. */
  readonly #open = new Set<BatchSet>();
  /** Slots whose batch waits for its bytes (`StoredSlot.batch`), oldest first. */
  readonly #held: number[] = [];
  /** Closed batches kept for reuse (up to SPARE_BYTES): see SlidingWindow's reason. */
  readonly #spare: BatchSet[] = [];
  #spareBytes = 0;

  /** Whether a closed slot's bytes are made and kept (for a checkpoint): the cluster's windows have none. */
  readonly #keepBlobs: boolean;

  /** Whether open batches keep visits in every dimension, counted by the window or not (a cluster's merge passes them on). */
  readonly #carryVisits: boolean;

  constructor(specs: readonly DimensionSpec[], windowSlots: number, keepBlobs = true, carryVisits = false) {
    if (specs.length === 0) throw new LogflowError('LF_INVARIANT', 'a window needs at least one dimension');
    this.windowSlots = windowSlots;
    this.#keepBlobs = keepBlobs;
    this.#carryVisits = carryVisits;
    this.dims = specs.map((s) => new DimensionWindow(s, windowSlots));
    this.#ring = new Array(windowSlots).fill(undefined);
  }

  /** Lines in the window. */
  get total(): number {
    return this.#total;
  }

  /** The dimension `/api/top` answers by default (and the job persists each slide): the URL, when counted. */
  get defaultDimension(): string {
    return (this.dimension('url') ?? this.dims[0]!).name;
  }

  /** Keys of the default dimension in the window. */
  get size(): number {
    return (this.dimension('url') ?? this.dims[0]!).size;
  }

  get lastSlot(): number | undefined {
    return this.#lastSlot;
  }

  /** Changes whenever the window's counts (or its last slot) change. */
  get version(): number {
    return this.#version;
  }

  /** The dimension named `name`, or undefined. */
  dimension(name: string): DimensionWindow | undefined {
    return this.dims.find((d) => d.name === name);
  }

  /** Bytes held by part: per dimension (`DimensionWindow.heldBytes`), the stored slots, their blobs, the spare and open batches. */
  heldBytes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const d of this.dims) for (const [part, n] of Object.entries(d.heldBytes())) out[`${d.name}.${part}`] = n;
    let slots = 0;
    let blobs = 0;
    for (const s of this.#ring) {
      if (!s) continue;
      slots += s.codes.byteLength + s.dims.reduce((n, c) => n + c.byteLength, 0);
      blobs += s.blob?.length ?? 0;
    }
    let open = 0;
    for (const b of this.#open) open += b.byteLength;
    return { ...out, slots, blobs, spare: this.#spareBytes, open };
  }

  /** Lines of status `status` in the window. */
  totalOf(status: StatusRange): number {
    if (status.lo === 0 && status.hi === CODES - 1) return this.#total;
    let n = 0;
    for (let c = status.lo; c <= status.hi; c++) n += this.#codeCounts[c]!;
    return n;
  }

  openBatch(): BatchSet {
    const spare = this.#spare.pop();
    if (spare) {
      this.#spareBytes -= spare.byteLength;
      spare.clear();
    }
    const batch = spare ?? new BatchSet(this.dims.map((d) => this.#carryVisits || d.visitors !== undefined));
    this.#open.add(batch);
    return batch;
  }

  /** An open batch rebuilt from `encodeBatch` bytes (a checkpoint), or from a version-1 blob (URLs only). */
  openBatchFromBytes(data: Buffer): BatchSet {
    const batch = this.openBatch();
    this.#decodeInto(batch, data);
    return batch;
  }

  /** Forgets an open batch that will not close (a query that was only read). */
  dropBatch(batch: BatchSet): void {
    this.#open.delete(batch);
    this.#keepSpare(batch);
  }

  /** An open batch's counts as bytes (the checkpoint's, a history row's). */
  encodeBatch(batch: BatchSet): Buffer {
    return encodeBatchBlob(this.dims.map((d, i) => ({ name: d.name, keys: d.keys, batch: batch.dims[i]! })));
  }

  /** A closed slot's bytes, made once from its batch (empty when it had none or a checkpoint took them). */
  encodeSlot(k: number): Buffer {
    const stored = this.#ring[this.#index(k)];
    if (stored?.batch) this.#encodeHeld(stored);
    return stored?.blob ?? Buffer.alloc(0);
  }

  /** A checkpoint has written slot `k`'s bytes: they need not be kept. */
  slotSaved(k: number): void {
    const stored = this.#ring[this.#index(k)];
    if (stored) {
      this.#releaseHeld(stored);
      stored.blob = undefined;
    }
  }

  /** Makes a held slot's bytes from its batch, which is let go. */
  #encodeHeld(stored: StoredSlot): void {
    const batch = stored.batch!;
    stored.blob = this.encodeBatch(batch);
    this.#releaseHeld(stored);
  }

  /** Lets go of a slot's held batch (its keys may be released, the batch reused). */
  #releaseHeld(stored: StoredSlot): void {
    const batch = stored.batch;
    if (!batch) return;
    stored.batch = undefined;
    this.#open.delete(batch);
    this.#keepSpare(batch);
  }

  /** Makes the bytes of every held slot but the newest `keep`. */
  #encodeHeldBeyond(keep: number): void {
    while (this.#held.length > keep) {
      const k = this.#held.shift()!;
      const stored = this.#ring[this.#index(k)];
      if (stored?.batch) this.#encodeHeld(stored);
    }
  }

  /**
   * Slot k enters with `entering` (an open batch, now closed; possibly none); slot
   * k - windowSlots leaves. Returns whether the window's counts changed.
   */
  advance(k: number, entering: BatchSet | undefined, enteringTotal: number): boolean {
    let changed = false;
    if (this.#lastSlot !== undefined) {
      if (k <= this.#lastSlot) throw new LogflowError('LF_INVARIANT', `slot ${k} is not after ${this.#lastSlot}`);
      if (k - this.#lastSlot > this.windowSlots) changed = this.#clear();
      else for (let j = this.#lastSlot + 1; j < k; j++) changed = this.#replace(j, undefined, 0) || changed;
    }
    changed = this.#replace(k, entering, enteringTotal) || changed;
    this.#lastSlot = k;
    this.#version++;
    return changed;
  }

  /** Whether slot `k` is inside the window (it entered, or could have, and has not left). */
  holds(k: number): boolean {
    return this.#lastSlot !== undefined && k <= this.#lastSlot && k > this.#lastSlot - this.windowSlots;
  }

  /**
   * Adds more counts to slot `k`, which entered already and is still inside the window
   * (`holds(k)`): lines of a batch an idle flush fired early, come within the watermark
   * (event time). The batch is closed with it. The slot's bytes are made again, whole: a
   * checkpoint writes the slot again (its total changed), and a slot a line may still reopen
   * keeps its bytes until then (job-checkpoint.ts).
   */
  amend(k: number, batch: BatchSet, total: number): void {
    if (!this.holds(k)) throw new LogflowError('LF_INVARIANT', `slot ${k} is not in the window (last slot ${this.#lastSlot})`);
    this.#open.delete(batch);
    const i = this.#index(k);
    const before = this.#ring[i];
    if (before?.batch) this.#encodeHeld(before);
    if (before && before.blob === undefined) throw new LogflowError('LF_INVARIANT', `slot ${k} was reopened after a checkpoint let go of its bytes`);
    const now = this.#lastSlot!;
    const dims = this.dims.map((d, di) => d.amend(k, batch.dims[di]!, before?.dims[di], now));
    const extra = codesOf(batch.dims[0]!);
    for (let p = 0; p < extra.length; p += 2) this.#codeCounts[extra[p]!]! += extra[p + 1]!;
    // The slot's bytes: what it had and what is added, as one batch.
    const whole = this.openBatch();
    if (before?.blob) this.#decodeInto(whole, before.blob);
    this.#decodeInto(whole, this.encodeBatch(batch));
    const blob = this.encodeBatch(whole);
    this.#open.delete(whole);
    this.#keepSpare(whole);
    const codes = before ? mergeCodes(before.codes, extra) : extra;
    this.#ring[i] = { total: (before?.total ?? 0) + total, codes, dims, blob, batch: undefined };
    this.#total += total;
    this.#version++;
    // (maxKeys is applied again as the next slot enters.)
    this.#keepSpare(batch);
  }

  /** An open batch that closes without entering (event-time catch-up: its history row is all that is kept). */
  pass(batch: BatchSet): void {
    this.#open.delete(batch);
    this.dims.forEach((d, i) => d.pass(batch.dims[i]!));
    if (this.dims.some((d) => d.emptiedWaiting >= RELEASE_EVERY)) this.releaseEmptied();
    this.#keepSpare(batch);
  }

  /** Releases the keys emptied since the last call that no open batch counts. */
  releaseEmptied(): void {
    const keep = this.#keepMask();
    for (const d of this.dims) d.releaseEmptied(keep);
  }

  /** Rebuilds the window from checkpointed slots (`lastSlot` is the newest that entered). */
  restore(slots: readonly { slot: number; data: Buffer; total: number }[], lastSlot: number | undefined): void {
    this.#clear();
    this.#version++;
    this.#lastSlot = lastSlot;
    for (const { slot, data, total } of [...slots].sort((a, b) => a.slot - b.slot)) {
      if (lastSlot === undefined || slot <= lastSlot - this.windowSlots || slot > lastSlot) continue;
      this.#replace(slot, this.openBatchFromBytes(data), total);
      // Its bytes are in the checkpoint already; kept until the next one lets go of them
      // (a slot a line may still reopen needs them: see `amend`).
    }
  }

  /** Each live slot with its index and total, oldest first: what a checkpoint lists. */
  slots(): { slot: number; total: number }[] {
    const out: { slot: number; total: number }[] = [];
    if (this.#lastSlot === undefined) return out;
    for (let k = this.#lastSlot - this.windowSlots + 1; k <= this.#lastSlot; k++) {
      const stored = this.#ring[this.#index(k)];
      if (stored) out.push({ slot: k, total: stored.total });
    }
    return out;
  }

  /** The `n` top keys of dimension `name` with status `status`, in the window ending with the last slot. */
  top(name: string, n: number, status: StatusRange): DimensionTop & { total: number } {
    const d = this.dimension(name);
    if (!d) throw new LogflowError('LF_INVARIANT', `no dimension ${name}`);
    const end = this.#lastSlot ?? 0;
    return { total: this.totalOf(status), ...d.top(n, status, end) };
  }

  #index(k: number): number {
    return ((k % this.windowSlots) + this.windowSlots) % this.windowSlots;
  }

  #replace(k: number, entering: BatchSet | undefined, enteringTotal: number): boolean {
    const i = this.#index(k);
    const leaving = this.#ring[i];
    const changed = leaving !== undefined || (entering !== undefined && entering.size > 0);
    if (leaving) {
      this.#releaseHeld(leaving);
      const j = k - this.windowSlots;
      this.dims.forEach((d, di) => d.leave(j, leaving.dims[di]!));
      this.#total -= leaving.total;
      for (let p = 0; p < leaving.codes.length; p += 2) this.#codeCounts[leaving.codes[p]!]! -= leaving.codes[p + 1]!;
    }
    const enters = entering !== undefined && entering.size > 0;
    // A held batch stays in the open set (its keys stay interned) until its bytes are made.
    const holds = enters && this.#keepBlobs;
    if (entering && !holds) this.#open.delete(entering);
    if (enters) {
      // Its bytes wait until a checkpoint or a history row asks for them (none with no blobs kept).
      const dims = this.dims.map((d, di) => d.enter(k, entering.dims[di]!));
      const codes = codesOf(entering.dims[0]!);
      for (let p = 0; p < codes.length; p += 2) this.#codeCounts[codes[p]!]! += codes[p + 1]!;
      this.#ring[i] = { total: enteringTotal, codes, dims, blob: undefined, batch: holds ? entering : undefined };
      if (holds) {
        this.#held.push(k);
        this.#encodeHeldBeyond(MAX_HELD);
      }
      this.#total += enteringTotal;
      if (this.dims.some((d) => d.spec.maxKeys > 0 && d.size > d.spec.maxKeys)) {
        // (Held batches are not open batches: their keys may be dropped, as before they were held.)
        this.#encodeHeldBeyond(0);
        const keep = this.#keepMask();
        for (const d of this.dims) d.capKeys(k, keep);
      }
    } else {
      this.#ring[i] = undefined;
    }
    if (this.dims.some((d) => d.emptiedWaiting >= RELEASE_EVERY)) this.releaseEmptied();
    if (entering && !holds) this.#keepSpare(entering);
    return changed;
  }

  /** Per dimension, a mask of the key ids open batches count (made once per call, lazily). */
  #keepMask(): (d: DimensionWindow) => Uint8Array {
    const masks = new Map<DimensionWindow, Uint8Array>();
    return (d) => {
      let mask = masks.get(d);
      if (!mask) {
        mask = new Uint8Array(d.keys.idLimit);
        const di = this.dims.indexOf(d);
        for (const b of this.#open) {
          const batch = b.dims[di]!;
          for (let i = 0; i < batch.size; i++) mask[batch.keys[i]!] = 1;
        }
        masks.set(d, mask);
      }
      return mask;
    };
  }

  #keepSpare(batch: BatchSet): void {
    if (this.#spareBytes + batch.byteLength > SPARE_BYTES) return;
    this.#spare.push(batch);
    this.#spareBytes += batch.byteLength;
  }

  #decodeInto(batch: BatchSet, data: Buffer): void {
    const reader = new BlobReader(data);
    while (reader.nextSection()) {
      const di = this.dims.findIndex((d) => d.name === reader.name);
      if (di < 0) continue; // a dimension no longer configured
      const d = this.dims[di]!;
      const ids = new Int32Array(reader.keyCount);
      for (let i = 0; i < ids.length; i++) ids[i] = d.keys.id(data, reader.keyStart(i), reader.keyEnd(i));
      const target = batch.dims[di]!;
      // The blob's cells are numbered in its order; the batch may hold others already.
      const cellOf: number[] = [];
      while (reader.nextCell()) {
        const c = target.cell(ids[reader.key]!, reader.code);
        target.counts[c]! += reader.count;
        target.bytes[c]! += reader.bytes;
        cellOf.push(c);
      }
      if (target.visitors) while (reader.nextVisit()) target.visit(cellOf[reader.cell]!, reader.hi, reader.lo);
    }
  }

  #clear(): boolean {
    const changed = this.#total > 0 || this.dims.some((d) => d.size > 0);
    for (const stored of this.#ring) if (stored) this.#releaseHeld(stored);
    this.#held.length = 0;
    for (const d of this.dims) d.clear();
    this.releaseEmptied();
    this.#ring.fill(undefined);
    this.#total = 0;
    this.#codeCounts.fill(0);
    return changed;
  }
}

/** Lines of a batch by status, as `[code, count]` pairs (every line is in every dimension once). */
function codesOf(batch: DimensionBatch): Int32Array {
  const byCode = codeScratch;
  let distinct = 0;
  for (let i = 0; i < batch.size; i++) {
    const code = batch.codes[i]!;
    if (byCode[code] === 0) distinct++;
    byCode[code]! += batch.counts[i]!;
  }
  const out = new Int32Array(distinct * 2);
  let p = 0;
  for (let code = 0; code < CODES && p < out.length; code++) {
    if (byCode[code] === 0) continue;
    out[p++] = code;
    out[p++] = byCode[code]!;
    byCode[code] = 0;
  }
  return out;
}

const codeScratch = new Float64Array(CODES);

/** Two `[code, count]` lists as one, codes ascending. */
function mergeCodes(a: Int32Array, b: Int32Array): Int32Array {
  const byCode = new Map<number, number>();
  for (const list of [a, b]) for (let p = 0; p < list.length; p += 2) byCode.set(list[p]!, (byCode.get(list[p]!) ?? 0) + list[p + 1]!);
  const out = new Int32Array(byCode.size * 2);
  let p = 0;
  for (const [code, n] of [...byCode].sort((x, y) => x[0] - y[0])) {
    out[p++] = code;
    out[p++] = n;
  }
  return out;
}

/** Emptied keys are released in passes of this many (or at each tick). */
const RELEASE_EVERY = 65_536;
/**
 * Closed batches held for their bytes (`StoredSlot.batch`) past which the oldest is encoded
 * at once: a checkpoint each tick takes them (one a tick in processing time); a store that
 * falls behind, or a window with no checkpoint (a cluster's merge), does not pile them up.
 */
const MAX_HELD = 2;
/** Memory kept in closed batches for reuse. */
const SPARE_BYTES = 8 * 1024 * 1024;
