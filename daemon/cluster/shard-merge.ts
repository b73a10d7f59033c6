import { LogflowError } from '../errors.js';
import { ANY_STATUS } from '../counts/dimension-window.js';
import { WindowSet, type BatchSet } from '../counts/window-set.js';
import { addSections, cellsOf, clusterSpecs, sectionsOf } from './batch-cells.js';
import { PartialCursor, type PartialHead } from './partial-wire.js';
import { WireError } from './wire-bytes.js';
import { PartitionWatermarks, type WatermarksState } from './partition-watermarks.js';
import { encodeProgress, encodeRow, encodeWindow, type RowMessage, type ShardCounters, type TopState } from './results-wire.js';

export interface ShardMergeSettings {
  readonly shard: number;
  readonly shards: number;
  readonly partitions: number;
  readonly batchMs: number;
  readonly windowMs: number;
  readonly slideMs: number;
  readonly topN: number;
  readonly eventTime: boolean;
  readonly watermarkMs: number;
  readonly idleTimeoutMs: number;
  /** The largest message to publish (max_payload less room for headers). */
  readonly maxBytes: number;
}

/** A message to publish on the shard's results subject, with its deduplication id. */
export interface MergeOutput {
  readonly id: string;
  readonly data: Buffer;
  /** A row's batch (the worker notes where the window's rows are, for a takeover). */
  readonly rowSlot?: number;
}

interface OpenSlot {
  /** Its cells, per dimension. */
  readonly batch: BatchSet;
  events: number;
  parseErrors: number;
  /** The first counts-stream sequence that added to it: a takeover replays from the lowest. */
  readonly firstSeq: number;
}

/** What a takeover needs besides the window's rows and the partials from `replayFrom` on. */
export interface ShardMergeState {
  readonly v: 2;
  readonly shard: number;
  /** The dimensions counted (null: no partial yet). */
  readonly dims: readonly string[] | null;
  /** The last counts-stream sequence applied. */
  readonly lastSeq: number;
  /** Replaying the counts stream from here rebuilds the open batches' URL counts. */
  readonly replayFrom: number;
  readonly nextToClose: number | null;
  readonly windowLastSlot: number | null;
  /** Open batches: `[slot, events, parseErrors, firstSeq]`. */
  readonly open: [number, number, number, number][];
  readonly watermarks: WatermarksState;
  readonly counters: ShardCounters;
  readonly changedSinceTop: boolean;
  readonly pendingUnplaced: number;
}

export type ApplyResult = 'applied' | 'duplicate' | 'gap';

/**
 * One merge shard: the partials of every partition for the (dimension, key) pairs that hash
 * to this shard, summed into batches (per dimension, key and status: lines and bytes, and
 * the union of their distinct clients where visitors are counted; the job's `BatchSet`), closed by the watermark over partitions, slid into the shard's window
 * (the job's `WindowSet`). Closing a batch makes its row (the history, and the query nodes'
 * windows by any dimension and status) and, at a slide, the shard's window (its top keys of
 * the default dimension); query nodes combine the shards' (their keys are disjoint, so the
 * union of the shards' tops holds the top of all, exactly). Lines are counted by the first
 * dimension: every line has a key there.
 *
 * A function of the messages it is given: no clock, no randomness. A worker that takes the
 * shard over rebuilds it from the window's rows and by replaying the partials of the open
 * batches (`replay`), and then makes the same messages as the one before it would have.
 */
export class ShardMerge {
  readonly #s: ShardMergeSettings;
  /** Made from the first partial's dimensions (or a takeover's state). */
  #window: WindowSet | undefined;
  #dims: readonly string[] | undefined;
  readonly #windowSlots: number;
  readonly #slideSlots: number;
  readonly #wm: PartitionWatermarks;
  readonly #open = new Map<number, OpenSlot>();
  /** The late rows of the partial being applied (batches closed already). */
  readonly #lateRows = new Map<number, OpenSlot>();
  #nextToClose = NaN;
  #lastSeq = 0;
  #changedSinceTop = true;
  #pendingUnplaced = 0;
  /** `closedThrough` of the last message in the outbox. */
  #toldClosedThrough = NaN;
  #eventsIn = 0;
  #eventsCounted = 0;
  #parseErrors = 0;
  #late = 0;
  #duplicates = 0;
  /** Cells (dimension, key, status) applied, and written in rows: the cost per pair (bench:cluster). */
  pairsIn = 0;
  rowPairsOut = 0;
  /** Replay: the partials seen, so a repeat in the replayed range adds once. */
  readonly #replayed = new Set<string>();
  /** Messages to publish, in order; the worker takes them. */
  readonly outbox: MergeOutput[] = [];

  constructor(settings: ShardMergeSettings) {
    this.#s = settings;
    this.#windowSlots = settings.windowMs / settings.batchMs;
    this.#slideSlots = settings.slideMs / settings.batchMs;
    this.#wm = new PartitionWatermarks(settings);
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  get nextToClose(): number {
    return this.#nextToClose;
  }

  get windowSlots(): number {
    return this.#windowSlots;
  }

  get counters(): ShardCounters {
    return { eventsIn: this.#eventsIn, eventsCounted: this.#eventsCounted, parseErrors: this.#parseErrors, late: this.#late, duplicates: this.#duplicates };
  }

  /** Distinct keys of the default dimension (the URL) in the shard's window. */
  get distinctUrls(): number {
    return this.#window?.size ?? 0;
  }

  /** The window, made for `dims` the first time; a partial of other dimensions is refused. */
  #windowOf(dims: readonly string[]): WindowSet {
    if (!this.#window) {
      this.#dims = [...dims];
      // Its batches keep the partials' visits (unions per cell), to pass them on in rows; the
      // shard's own window counts none (its top is by lines: the query node's has visitors).
      this.#window = new WindowSet(clusterSpecs(dims), this.#windowSlots, false, true);
      return this.#window;
    }
    if (dims.length !== this.#dims!.length || dims.some((d, i) => d !== this.#dims![i])) {
      throw new WireError(`a partial counted by ${dims.join(' ')}, for a shard counting by ${this.#dims!.join(' ')} (the counters' dimensions changed)`);
    }
    return this.#window;
  }

  /** The lowest counts-stream sequence a takeover would replay from. */
  get replayFrom(): number {
    let min = this.#lastSeq + 1;
    for (const o of this.#open.values()) min = Math.min(min, o.firstSeq);
    return min;
  }

  /** An operator accepted the gap before this partial: its partition goes on from its `after`. */
  acceptGap(data: Uint8Array): void {
    const h = new PartialCursor(data).head;
    this.#wm.acceptGap(h.partition, h.after, h.atMs);
  }

  /** A message that is not a partial: passed over (the caller says so in the log). */
  skip(seq: number): void {
    this.#lastSeq = seq;
  }

  /** A partial of sequence `seq`; 'gap' when it does not follow its partition's last (nothing is applied then). */
  apply(seq: number, data: Uint8Array): ApplyResult {
    const cursor = new PartialCursor(data);
    const h = cursor.head;
    this.#checkRoute(h);
    this.#windowOf(h.dims);
    const admission = this.#wm.admit(h);
    if (admission === 'gap') return 'gap';
    this.#lastSeq = seq;
    if (admission === 'duplicate') {
      this.#duplicates += this.#walk(cursor, seq, false);
      return 'duplicate';
    }
    this.#eventsIn += this.#walk(cursor, seq, true) + h.unplacedErrors;
    this.#pendingUnplaced += h.unplacedErrors;
    this.#wm.observe(h);
    this.#placeUnplaced();
    this.#close();
    return 'applied';
  }

  /**
   * A takeover, before going on from `state.lastSeq`: a partial the shard had applied
   * (sequence up to `lastSeq`) adds its URL counts to the batches still open, once.
   */
  replay(data: Uint8Array): void {
    const cursor = new PartialCursor(data);
    const h = cursor.head;
    const id = `${h.partition}:${h.to}:${h.part}`;
    if (h.to === h.after || this.#replayed.has(id)) return;
    this.#replayed.add(id);
    const window = this.#windowOf(h.dims);
    while (cursor.nextSlot()) {
      const k = this.#slotOf(cursor.slot, h.batchMs);
      const o = Number.isNaN(this.#nextToClose) || k >= this.#nextToClose ? this.#open.get(k) : undefined;
      if (o) this.#addCells(cursor, window, o.batch);
    }
  }

  /** The slot's cells (at the cursor) into `batch`; returns its lines (the first dimension's). */
  #addCells(cursor: PartialCursor, window: WindowSet | undefined, batch: BatchSet | undefined): number {
    const c = cursor.cells;
    const data = cursor.reader.data;
    let lines = 0;
    while (c.nextSection()) {
      const counted = c.dim === 0;
      const target = batch?.dims[c.dim];
      const keys = window?.dims[c.dim]!.keys;
      while (c.nextKey()) {
        const id = target ? keys!.id(data, c.keyStart, c.keyEnd) : 0;
        while (c.nextCell()) {
          if (counted) lines += c.count;
          if (target) {
            const cell = target.cell(id, c.code);
            target.counts[cell]! += c.count;
            target.bytes[cell]! += c.bytes;
            // The union of the partitions' clients of the cell: a client twice (two
            // partitions, or a partial replayed in a takeover) is one visit.
            while (c.nextVisit()) target.visit(cell, c.hi, c.lo);
            this.pairsIn++;
          }
        }
      }
    }
    return lines;
  }

  /** The end of a takeover's replay. */
  replayed(): void {
    this.#replayed.clear();
  }

  /** Adds the message's slots to the open batches (or counts them late); returns its events. */
  #walk(cursor: PartialCursor, seq: number, add: boolean): number {
    const h = cursor.head;
    let events = 0;
    while (cursor.nextSlot()) {
      const k = this.#slotOf(cursor.slot, h.batchMs);
      const late = k < this.#nextToClose;
      let n = cursor.parseErrors;
      let o: OpenSlot | undefined;
      if (add) {
        // A batch closed already: its lines go to the history only, in a late row (as a
        // single process keeps a line older than its window), never into the window.
        o = late ? this.#lateBatch(k, seq) : this.#batch(k, seq);
        o.parseErrors += cursor.parseErrors;
      }
      n += this.#addCells(cursor, this.#window, o?.batch);
      if (o) o.events += n;
      if (add && late) this.#late += n;
      events += n;
    }
    if (add) this.#publishLate(seq);
    return events;
  }

  /** The late row of batch `k` from the partial being applied. */
  #lateBatch(k: number, seq: number): OpenSlot {
    let o = this.#lateRows.get(k);
    if (!o) this.#lateRows.set(k, (o = { batch: this.#window!.openBatch(), events: 0, parseErrors: 0, firstSeq: seq }));
    return o;
  }

  /**
   * The partial's late rows, in slot order, for the history: id'd by the partial's
   * sequence, so a takeover that applies it again publishes the same rows (and the query
   * node skips the repeat). Their batches never enter the window.
   */
  #publishLate(seq: number): void {
    if (this.#lateRows.size === 0) return;
    const s = this.#s;
    for (const k of [...this.#lateRows.keys()].sort((a, b) => a - b)) {
      const o = this.#lateRows.get(k)!;
      const window = this.#window!;
      const parts = encodeRow(
        { ...this.#head(this.#nextToClose), slot: k, batchMs: s.batchMs, events: o.events, parseErrors: o.parseErrors, lateSeq: seq },
        this.#dims!,
        sectionsOf(window, o.batch),
        s.maxBytes,
      );
      parts.forEach((data, part) => this.#push({ id: `${s.shard}:l:${seq}:${k}:${part}`, data }, this.#nextToClose));
      window.pass(o.batch);
    }
    this.#lateRows.clear();
  }

  #slotOf(counterSlot: number, counterBatchMs: number): number {
    return Math.floor((counterSlot * counterBatchMs) / this.#s.batchMs);
  }

  #checkRoute(h: PartialHead): void {
    if (h.shard !== this.#s.shard || h.shards !== this.#s.shards) throw new LogflowError('LF_CLUSTER_MISMATCH', `a partial for shard ${h.shard} of ${h.shards} on the subject of shard ${this.#s.shard} of ${this.#s.shards}`);
    if (h.batchMs > this.#s.batchMs || this.#s.batchMs % h.batchMs !== 0) throw new LogflowError('LF_CLUSTER_MISMATCH', `a partial of ${h.batchMs} ms batches for ${this.#s.batchMs} ms batches (the counters' batchInterval must divide the merge's)`);
  }

  #batch(k: number, seq: number): OpenSlot {
    let o = this.#open.get(k);
    if (!o) {
      o = { batch: this.#window!.openBatch(), events: 0, parseErrors: 0, firstSeq: seq };
      this.#open.set(k, o);
    }
    return o;
  }

  /** Lines without a time (event time): parse errors of the newest open batch, once there is one. */
  #placeUnplaced(): void {
    if (this.#pendingUnplaced === 0) return;
    const maxEvent = this.#wm.maxEventMs;
    if (maxEvent === null) return;
    const newest = Math.floor(maxEvent / this.#s.batchMs);
    const k = Number.isNaN(this.#nextToClose) ? newest : Math.max(this.#nextToClose, newest);
    const o = this.#batch(k, this.#lastSeq);
    o.events += this.#pendingUnplaced;
    o.parseErrors += this.#pendingUnplaced;
    this.#pendingUnplaced = 0;
  }

  /** Closes the batches the watermark has passed, in order, into the window. */
  #close(): void {
    const limitMs = this.#wm.closeLimitMs();
    if (limitMs === -Infinity) return;
    let limit = Math.floor(limitMs / this.#s.batchMs);
    if (limitMs === Infinity) {
      if (this.#open.size === 0) return;
      limit = Math.max(...this.#open.keys()) + 1;
    }
    if (Number.isNaN(this.#nextToClose)) {
      // The first batch to close is the first open one once the watermark has passed it,
      // not before: another partition's lines for an earlier batch may still come (a file
      // is cut into extents, so partitions start at different seconds). Fixed at the first
      // partial's first batch, the next partial's earlier second was late with no watermark
      // past it (bench:cluster: 1,000 and 13,068 of 1M lines late, every lag 0).
      if (this.#open.size === 0) return;
      const first = Math.min(...this.#open.keys());
      if (limit <= first) return;
      this.#nextToClose = first;
    }
    if (limit <= this.#nextToClose) return;
    const slide = this.#slideSlots;
    // The last slide boundary of this run: the newest window, whose top is published.
    const newest = Math.floor(limit / slide) * slide - 1;
    const window = this.#window!;
    let k = this.#nextToClose;
    while (k < limit) {
      const o = this.#open.get(k);
      if (!o && window.total === 0) {
        // Nothing open here and an empty window: jump to the next open batch (or the last
        // slide boundary, whose window is published), instead of one empty batch at a time.
        let next = limit;
        for (const s of this.#open.keys()) if (s >= k && s < next) next = s;
        const jumpTo = Math.min(next, newest >= k ? newest : limit);
        if (jumpTo > k) {
          k = jumpTo;
          continue;
        }
      }
      this.#closeOne(k, o, k === newest);
      k++;
    }
    this.#nextToClose = limit;
    window.releaseEmptied();
    // Every message says how far the shard has closed; when none of this run says it, this does.
    if (this.#toldClosedThrough !== limit) this.#push({ id: `${this.#s.shard}:p:${limit}`, data: encodeProgress({ ...this.#head(limit), counters: this.counters }) }, limit);
  }

  #push(m: MergeOutput, closedThrough: number): void {
    this.outbox.push(m);
    this.#toldClosedThrough = closedThrough;
  }

  #head(closedThrough: number) {
    return { shard: this.#s.shard, shards: this.#s.shards, closedThrough };
  }

  #closeOne(k: number, o: OpenSlot | undefined, newest: boolean): void {
    this.#open.delete(k);
    const s = this.#s;
    const window = this.#window!;
    if (o) {
      this.#eventsCounted += o.events - o.parseErrors;
      this.#parseErrors += o.parseErrors;
      this.rowPairsOut += cellsOf(o.batch);
      const parts = encodeRow(
        { ...this.#head(k + 1), slot: k, batchMs: s.batchMs, events: o.events, parseErrors: o.parseErrors },
        this.#dims!,
        sectionsOf(window, o.batch),
        s.maxBytes,
      );
      parts.forEach((data, part) => this.#push({ id: `${s.shard}:r:${k}:${part}`, data, rowSlot: k }, k + 1));
    }
    if (window.advance(k, o?.batch, o ? o.events - o.parseErrors : 0)) this.#changedSinceTop = true;
    if ((k + 1) % this.#slideSlots !== 0) return;
    const topState: TopState = newest ? (this.#changedSinceTop ? 'full' : 'same') : 'none';
    const top = topState === 'full' ? window.top(window.defaultDimension, s.topN, ANY_STATUS).items.map((i) => ({ url: i.key, count: i.count, bytes: i.bytes })) : [];
    if (topState === 'full') this.#changedSinceTop = false;
    const endMs = (k + 1) * s.batchMs;
    const parts = encodeWindow(
      { ...this.#head(k + 1), endMs, windowMs: s.windowMs, total: window.total, distinct: window.size, counters: this.counters, topState, top },
      s.maxBytes,
    );
    parts.forEach((data, part) => this.#push({ id: `${s.shard}:w:${endMs}:${part}`, data }, k + 1));
  }

  state(): ShardMergeState {
    return {
      v: 2,
      shard: this.#s.shard,
      dims: this.#dims ?? null,
      lastSeq: this.#lastSeq,
      replayFrom: this.replayFrom,
      nextToClose: Number.isNaN(this.#nextToClose) ? null : this.#nextToClose,
      windowLastSlot: this.#window?.lastSlot ?? null,
      open: [...this.#open].map(([k, o]) => [k, o.events, o.parseErrors, o.firstSeq]),
      watermarks: this.#wm.state(),
      counters: this.counters,
      changedSinceTop: this.#changedSinceTop,
      pendingUnplaced: this.#pendingUnplaced,
    };
  }

  /**
   * A takeover: the state as the last owner published it, and the rows of the batches in
   * its window (each the parts its row was published in). `replay` then rebuilds the open
   * batches' counts from `state.replayFrom` to `state.lastSeq`.
   */
  restore(state: ShardMergeState, rows: readonly { slot: number; parts: readonly RowMessage[]; total: number }[]): void {
    if (state.v !== 2) throw new LogflowError('LF_CLUSTER_MISMATCH', `a shard state of version ${state.v} (a merge worker of a logflow before the dimensions): run the same logflow on every merge worker`);
    this.#lastSeq = state.lastSeq;
    this.#nextToClose = state.nextToClose ?? NaN;
    this.#changedSinceTop = state.changedSinceTop;
    this.#pendingUnplaced = state.pendingUnplaced;
    const c = state.counters;
    this.#eventsIn = c.eventsIn;
    this.#eventsCounted = c.eventsCounted;
    this.#parseErrors = c.parseErrors;
    this.#late = c.late;
    this.#duplicates = c.duplicates;
    this.#wm.restore(state.watermarks);
    if (state.dims === null) return;
    const window = this.#windowOf(state.dims);
    // The rows as the window restores a checkpoint's slots (the job's blob of each).
    const slots = rows.map((r) => {
      const batch = window.openBatch();
      for (const p of r.parts) addSections(window, batch, p.dims, p.sections, p.clients);
      const data = window.encodeBatch(batch);
      window.dropBatch(batch);
      return { slot: r.slot, data, total: r.total };
    });
    window.restore(slots, state.windowLastSlot ?? undefined);
    for (const [k, events, parseErrors, firstSeq] of state.open) {
      this.#open.set(k, { batch: window.openBatch(), events, parseErrors, firstSeq });
    }
  }
}
