import { LogflowError } from '../errors.js';
import { compareUrlCounts } from '../counts/top-k.js';
import { ANY_STATUS, type DimensionSpec } from '../counts/dimension-window.js';
import { WindowSet, type BatchSet } from '../counts/window-set.js';
import { LiveTopQueries, type LiveTop, type LiveTopQuery } from '../job/live-top.js';
import type { BatchResult, WindowResult } from '../store/window-results.js';
import { addSections } from './batch-cells.js';
import type { ResultsMessage, ShardCounters, TopCount, WindowMessage } from './results-wire.js';

/** One shard's window at a slide, its parts put together. */
interface ShardWindow {
  /** The next part expected while it is put together. */
  nextPart: number;
  readonly endMs: number;
  readonly windowMs: number;
  readonly total: number;
  readonly distinct: number;
  readonly topState: WindowMessage['topState'];
  readonly top: TopCount[];
  readonly seq: number;
}

interface PendingRow {
  events: number;
  parseErrors: number;
  /** The shards' cells of the batch, added up (their keys are disjoint). */
  readonly batch: BatchSet;
  seq: number;
  /** Written to the history already (read again after a restart for the live window only). */
  readonly windowOnly: boolean;
}

interface ShardState {
  closedThrough: number;
  /** The last row part and window taken in (a repeat from a takeover is skipped). */
  lastRow: [number, number];
  /** The last late row part taken in: [partial's sequence, slot, part] (checkpointed: late rows are written at once). */
  lastLate: [number, number, number];
  lastWindowEnd: number;
  /** Window parts being put together. */
  assembling: ShardWindow | undefined;
  readonly windows: ShardWindow[];
  /** The shard's last full top, and the sequence of its message (reading resumes there after a restart). */
  lastTop: TopCount[] | undefined;
  lastTopSeq: number;
  /** Counters by how far the shard had closed: the ones as of the combined window are shown. */
  readonly counters: { closedThrough: number; counters: ShardCounters }[];
  latestCounters: ShardCounters | undefined;
  shownCounters: ShardCounters | undefined;
}

/** What a query node checkpoints of the combination (besides what its database holds). */
export interface CombinerState {
  readonly resumeSeq: number;
  /** The last message read: after a restart, batches are not taken until reading is back there (the live window is rebuilt first). */
  readonly readThrough?: number;
  /** Batches below this and windows ending at or before `windowsThroughMs` are written. */
  readonly batchesThrough: number;
  readonly windowsThroughMs: number;
  readonly shards: { closedThrough: number; counters: ShardCounters | undefined; lastLate?: [number, number, number] }[];
}

/** What can be written now, in order. */
export interface Combined {
  readonly batches: BatchResult[];
  /** Every slide all shards are past (rows only), the newest with all tops known last and whole. */
  readonly windows: WindowResult[];
}

const EMPTY_COUNTERS: ShardCounters = { eventsIn: 0, eventsCounted: 0, parseErrors: 0, late: 0, duplicates: 0 };

/**
 * A query node's side of the merge: combines the shards' results. A batch's row is the
 * shards' rows added up (their (dimension, key) pairs are disjoint), taken once every shard
 * has closed the batch: written to the history, and slid into the node's live window by
 * every dimension (the job's `WindowSet`), which answers `/api/top?by=&status=` as a single
 * process's does, visitors included (the rows carry each cell's distinct clients). A window
 * row is the shards' windows summed, and its top the best `topN` of the shards' tops, which
 * is exact: a key lives in one shard, so a key in the top `topN` of all is in the top `topN`
 * of its shard; its keys' visitors are the live window's as it ends there.
 */
export class ResultsCombiner {
  readonly #shards: ShardState[];
  readonly #topN: number;
  readonly #batchMs: number;
  readonly #history: boolean;
  readonly #rows = new Map<number, PendingRow>();
  /** Late rows (history only) not taken yet, and the sequence of the first. */
  #late: BatchResult[] = [];
  #lateSeq = Infinity;
  #batchesThrough: number;
  #windowsThroughMs: number;
  #lastSeq = 0;
  #combinedTotal = 0;
  #combinedDistinct = 0;
  readonly #window: WindowSet;
  readonly #live: LiveTopQueries;
  /** The first message of each batch in the live window (a restart reads again from the oldest). */
  readonly #windowSeqs = new Map<number, number>();
  /** After a restart: batches wait until reading is back here. */
  readonly #catchUpSeq: number;

  constructor(o: { shards: number; topN: number; batchMs: number; windowMs: number; dims: readonly DimensionSpec[]; history: boolean; state?: CombinerState }) {
    this.#topN = o.topN;
    this.#batchMs = o.batchMs;
    this.#history = o.history;
    this.#window = new WindowSet(o.dims, o.windowMs / o.batchMs, false);
    this.#live = new LiveTopQueries(this.#window, o.batchMs, o.windowMs);
    this.#catchUpSeq = o.state?.readThrough ?? 0;
    this.#batchesThrough = o.state?.batchesThrough ?? -Infinity;
    this.#windowsThroughMs = o.state?.windowsThroughMs ?? -Infinity;
    this.#shards = Array.from({ length: o.shards }, (_, q) => {
      const s = o.state?.shards[q];
      return {
        closedThrough: s?.closedThrough ?? -Infinity,
        lastRow: [-Infinity, -1],
        lastLate: s?.lastLate ?? [0, 0, 0],
        lastWindowEnd: -Infinity,
        assembling: undefined,
        windows: [],
        lastTop: undefined,
        lastTopSeq: Infinity,
        counters: [],
        latestCounters: s?.counters,
        shownCounters: s?.counters,
      };
    });
  }

  /** The live window's top keys of a dimension and status, as a single process's job answers. */
  top(query: LiveTopQuery): LiveTop {
    return this.#live.top(query);
  }

  /** Takes in one message (any order of shards; a shard's own in the order it published them). */
  add(seq: number, m: ResultsMessage): void {
    this.#lastSeq = seq;
    const s = this.#shards[m.shard];
    if (!s || m.shards !== this.#shards.length) throw new LogflowError('LF_CLUSTER_MISMATCH', `a result of shard ${m.shard} of ${m.shards}, for a query node of ${this.#shards.length} shards`);
    // How far the shard has closed counts from a message's last part: a row or a window in
    // parts is not whole before it, and a write between two parts took a row with its first
    // part only and dropped the rest as written (20,000 URLs: 16,068 in the history).
    if (m.last && m.closedThrough > s.closedThrough) s.closedThrough = m.closedThrough;
    if (m.kind === 'late') {
      // Lines of a batch the shard had closed: added to the history's row for it (rows add up).
      if (compareLate([m.seq, m.slot, m.part], s.lastLate) <= 0) return;
      s.lastLate = [m.seq, m.slot, m.part];
      if (!this.#history) return;
      const w = this.#window;
      const batch = w.openBatch();
      addSections(w, batch, m.dims, m.sections, m.clients);
      this.#late.push({ startMs: m.slot * this.#batchMs, events: m.events, parseErrors: m.parseErrors, counts: w.encodeBatch(batch) });
      w.dropBatch(batch);
      this.#lateSeq = Math.min(this.#lateSeq, seq);
      return;
    }
    if (m.kind === 'row') {
      const [slot, part] = s.lastRow;
      if (m.slot < slot || (m.slot === slot && m.part <= part)) return;
      s.lastRow = [m.slot, m.part];
      // A batch written already: read again after a restart for the live window, if still in it.
      const windowOnly = m.slot < this.#batchesThrough;
      const last = this.#window.lastSlot;
      if (windowOnly && (m.slot < this.#batchesThrough - this.#window.windowSlots || (last !== undefined && m.slot <= last))) return;
      let row = this.#rows.get(m.slot);
      if (!row) this.#rows.set(m.slot, (row = { events: 0, parseErrors: 0, batch: this.#window.openBatch(), seq, windowOnly }));
      row.events += m.events;
      row.parseErrors += m.parseErrors;
      addSections(this.#window, row.batch, m.dims, m.sections, m.clients);
      return;
    }
    s.counters.push({ closedThrough: m.closedThrough, counters: m.counters });
    s.latestCounters = m.counters;
    if (m.kind === 'progress') return;
    if (m.endMs < s.lastWindowEnd || (m.endMs === s.lastWindowEnd && !s.assembling)) return;
    const a = s.assembling?.endMs === m.endMs ? s.assembling : { nextPart: 0, endMs: m.endMs, windowMs: m.windowMs, total: m.total, distinct: m.distinct, topState: m.topState, top: [], seq };
    // (A part seen already: a takeover published the same window again.)
    if (m.part !== a.nextPart) return;
    a.nextPart++;
    a.top.push(...m.top);
    s.assembling = m.last ? undefined : a;
    s.lastWindowEnd = m.endMs;
    if (!m.last) return;
    if (a.topState === 'full') {
      s.lastTop = a.top;
      s.lastTopSeq = a.seq;
    }
    if (m.endMs > this.#windowsThroughMs) s.windows.push(a);
  }

  /** Batches every shard has closed, and slides every shard is past, taken out to be written. */
  take(): Combined {
    // After a restart, the window's batches are read again before any is taken.
    if (this.#lastSeq < this.#catchUpSeq) return { batches: [], windows: [] };
    let through = Infinity;
    for (const s of this.#shards) through = Math.min(through, s.closedThrough);
    const batches: BatchResult[] = this.#late;
    this.#late = [];
    this.#lateSeq = Infinity;
    if (through === -Infinity) return { batches, windows: [] };
    const w = this.#window;
    // The slides to combine: each is combined with the live window ending there (its top's
    // visitors are the window's), so rows and slide ends go in slot order.
    const throughMs = through * this.#batchMs;
    const ends = new Set<number>();
    for (const s of this.#shards) for (const sw of s.windows) if (sw.endMs <= throughMs) ends.add(sw.endMs);
    const endSlots = [...ends].sort((a, b) => a - b).map((endMs) => endMs / this.#batchMs - 1);
    const windows: WindowResult[] = [];
    let newestFull: WindowResult | undefined;
    let e = 0;
    const combineThrough = (slot: number) => {
      for (; e < endSlots.length && endSlots[e]! < slot; e++) {
        const end = endSlots[e]!;
        if (w.lastSlot === undefined || end > w.lastSlot) w.advance(end, undefined, 0);
        newestFull = this.#combineWindow((end + 1) * this.#batchMs, windows) ?? newestFull;
      }
    };
    for (const slot of [...this.#rows.keys()].sort((a, b) => a - b)) {
      if (slot >= through) break;
      combineThrough(slot);
      const row = this.#rows.get(slot)!;
      this.#rows.delete(slot);
      if (this.#history && !row.windowOnly) batches.push({ startMs: slot * this.#batchMs, events: row.events, parseErrors: row.parseErrors, counts: w.encodeBatch(row.batch) });
      if (w.lastSlot === undefined || slot > w.lastSlot) {
        w.advance(slot, row.batch, row.events - row.parseErrors);
        this.#windowSeqs.set(slot, row.seq);
      } else {
        w.dropBatch(row.batch);
      }
    }
    combineThrough(Infinity);
    // The window slides with the batches every shard has closed, counted or not.
    if (Number.isFinite(through) && (w.lastSlot === undefined || through - 1 > w.lastSlot)) w.advance(through - 1, undefined, 0);
    const oldest = (w.lastSlot ?? 0) - w.windowSlots;
    for (const slot of this.#windowSeqs.keys()) if (slot <= oldest) this.#windowSeqs.delete(slot);
    w.releaseEmptied();
    this.#batchesThrough = Math.max(this.#batchesThrough, through);
    if (newestFull) {
      const full = newestFull;
      const i = windows.findIndex((x) => x.endMs === full.endMs);
      windows.splice(i, 1);
      windows.push(full);
    }
    if (endSlots.length > 0) this.#windowsThroughMs = Math.max(this.#windowsThroughMs, (endSlots.at(-1)! + 1) * this.#batchMs);
    for (const s of this.#shards) {
      while (s.counters.length > 0 && s.counters[0]!.closedThrough <= through) s.shownCounters = s.counters.shift()!.counters;
    }
    return { batches, windows };
  }

  /**
   * The slide ending at `endMs`, summed over shards, pushed to `out`; with every shard's top
   * known, returns it with its top (the best `topN` of the shards'), each key's visitors the
   * live window's when it ends there.
   */
  #combineWindow(endMs: number, out: WindowResult[]): WindowResult | undefined {
    let total = 0;
    let distinct = 0;
    let windowMs = 0;
    let topsKnown = true;
    const tops: TopCount[][] = [];
    for (const s of this.#shards) {
      // A shard with no window at this slide had an empty one (it jumps over those).
      const w = s.windows[0]?.endMs === endMs ? s.windows.shift()! : undefined;
      if (!w) continue;
      total += w.total;
      distinct += w.distinct;
      windowMs = w.windowMs;
      if (w.topState === 'full') tops.push(w.top);
      else if (w.topState === 'same' && s.lastTop) tops.push(s.lastTop);
      else if (w.total > 0) topsKnown = false;
    }
    const row: WindowResult = { startMs: endMs - windowMs, endMs, total, distinctUrls: distinct, top: [], dimension: this.#window.defaultDimension, changed: true, rowOnly: true };
    out.push(row);
    this.#combinedTotal = total;
    this.#combinedDistinct = distinct;
    if (!topsKnown) return undefined;
    const w = this.#window;
    const end = endMs / this.#batchMs - 1;
    const d = w.dimension(w.defaultDimension)!;
    // (The window ends here unless a restart read it past: then the visitors are not known.)
    const visitorsOf = (key: string) => (w.lastSlot === end ? d.visitorsOfKey(key, ANY_STATUS, end) : UNKNOWN_VISITORS);
    return { ...row, top: mergeTops(tops, this.#topN).map((u) => ({ key: u.url, count: u.count, bytes: u.bytes, ...visitorsOf(u.url) })), rowOnly: false };
  }

  /** The shards' counters as of the combined results (what readers can see), summed. */
  get shownCounters(): ShardCounters {
    return sumCounters(this.#shards.map((s) => s.shownCounters));
  }

  /** The shards' latest counters, summed (eventsIn: what reached the merge). */
  get latestCounters(): ShardCounters {
    return sumCounters(this.#shards.map((s) => s.latestCounters));
  }

  get distinctUrls(): number {
    return this.#combinedDistinct;
  }

  get windowTotal(): number {
    return this.#combinedTotal;
  }

  /** Shards that have not closed as far as the first of the others (a slow or stopped merge). */
  get shardsBehind(): number {
    let max = -Infinity;
    for (const s of this.#shards) max = Math.max(max, s.closedThrough);
    return this.#shards.filter((s) => s.closedThrough < max).length;
  }

  /**
   * Where a restart reads again from: the first message whose content is not written yet
   * (a row of a batch not closed everywhere, a slide not reached everywhere) or whose top a
   * later `same` refers to.
   */
  state(): CombinerState {
    let resume = Math.min(this.#lastSeq + 1, this.#lateSeq);
    for (const r of this.#rows.values()) resume = Math.min(resume, r.seq);
    for (const seq of this.#windowSeqs.values()) resume = Math.min(resume, seq);
    for (const s of this.#shards) {
      for (const w of s.windows) resume = Math.min(resume, w.seq);
      if (s.assembling) resume = Math.min(resume, s.assembling.seq);
      if (s.lastTopSeq !== Infinity) resume = Math.min(resume, s.lastTopSeq);
    }
    return {
      resumeSeq: resume,
      readThrough: this.#lastSeq,
      batchesThrough: this.#batchesThrough,
      windowsThroughMs: this.#windowsThroughMs,
      shards: this.#shards.map((s) => ({ closedThrough: s.closedThrough, counters: s.shownCounters, lastLate: s.lastLate })),
    };
  }
}

/** Late rows' order: by the partial's sequence, then slot, then part. */
function compareLate(a: readonly [number, number, number], b: readonly [number, number, number]): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** A top key's visitors when the window has moved past the slide (null: not known). */
const UNKNOWN_VISITORS = Object.freeze({ visitors: null, visitorsExact: true });

/** The best `n` of the shards' tops (each already in answer order). */
export function mergeTops(tops: readonly TopCount[][], n: number): TopCount[] {
  const all: TopCount[] = [];
  for (const t of tops) all.push(...t);
  return all.sort(compareUrlCounts).slice(0, n);
}

function sumCounters(list: (ShardCounters | undefined)[]): ShardCounters {
  const out = { ...EMPTY_COUNTERS };
  for (const c of list) {
    if (!c) continue;
    out.eventsIn += c.eventsIn;
    out.eventsCounted += c.eventsCounted;
    out.parseErrors += c.parseErrors;
    out.late += c.late;
    out.duplicates += c.duplicates;
  }
  return out;
}
