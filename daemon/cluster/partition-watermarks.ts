import type { PartialHead } from './partial-wire.js';

/** What a merge shard knows of one partition, from its partials and heartbeats. */
export interface PartitionState {
  /** The partition's events are in applied partials up to this stream sequence. */
  coveredTo: number;
  /** The last part applied of the partial ending at `coveredTo`, and whether it was its last. */
  lastPart: number;
  complete: boolean;
  /** Processing time: the partition's events stored before this are in applied partials. */
  wmMs: number;
  /** Event time: the newest line time of the partition (null: none yet). */
  maxEventMs: number | null;
  /** Cluster time (a counter's clock, carried by its messages) of its first and last message, and of its last events. */
  firstAtMs: number;
  lastAtMs: number;
  lastEventAtMs: number;
}

export interface WatermarkSettings {
  readonly partitions: number;
  readonly eventTime: boolean;
  /** Event time: how far behind a partition's newest line its batches stay open. */
  readonly watermarkMs: number;
  /** A partition silent (processing time) or without events (event time) this long is left out of the minimum. */
  readonly idleTimeoutMs: number;
}

export type Admission = 'apply' | 'duplicate' | 'gap';

/** Event time: one edge's lines of one partition, which come in the edge's file order. */
export interface StreamState {
  maxEventMs: number;
  firstAtMs: number;
  lastEventAtMs: number;
}

/** What a checkpoint of the watermarks holds. */
export interface WatermarksState {
  readonly partitions: (PartitionState | null)[];
  /** Event time: `partition/edge` -> its stream. */
  readonly streams: [string, StreamState][];
  readonly firstAtMs: number;
  readonly maxAtMs: number;
  /** The newest counter clock seen (absent in a state from before the flow clock: `maxAtMs`). */
  readonly rawMaxAtMs?: number;
  readonly lastAnyEventAtMs: number;
  readonly busySinceMs: number;
}

/**
 * The watermark of a merge shard over what feeds it, as Flink's over input splits: the
 * minimum of the inputs' own, leaving out an input idle for `idleTimeout`. In processing
 * time an input is a partition (its `wmMs`: the stream stores in order); in event time it
 * is an edge's lines of a partition (their newest line time: an edge reads its files in
 * order, a partition mixes edges). The maximum (what the query node used) closed a batch
 * as soon as the fastest input passed it, and the others' lines for it were late: two
 * edges replaying the same hour lost 36-49%.
 *
 * Time here is the cluster's: the counters' clocks, carried in their messages. A shard
 * therefore decides the same whoever runs it and whenever (a takeover replays the same
 * messages to the same batches); nothing reads this process's clock.
 *
 * Idleness is measured on a flow clock, not on those clocks as they are: it moves on with
 * the messages, at most `stepCap` (two of the counter's intervals and a second) from one
 * message to the next. Live counters publish every interval (a heartbeat when there is
 * nothing to count), so while the cluster works the flow clock keeps up with theirs; when
 * nothing is published at all (every server down, the only counter killed, a leader
 * elected) it stands still. Read as it is, the first counter to publish after such an
 * outage moved the cluster's time past every other partition's idleTimeout at once, and
 * their partials, a second behind, found their batches closed (the kill test: 3,024 to
 * 6,048 lines late after 19 s of silence). A partition is idle only for as long as the
 * others were heard from without it.
 *
 * Event time: idleness counts only while the cluster is busy, and after a quiet spell (no
 * events anywhere for `idleTimeout`) nothing closes for `idleTimeout` from the first new
 * events: an edge that starts replaying seconds after another is waited for, not late.
 *
 * It also admits partials: each must follow the last one of its partition (`after` is the
 * last `to`), part after part; a repeat (a counter that took over republishes) is a
 * duplicate, anything else a gap.
 */
export class PartitionWatermarks {
  readonly #s: WatermarkSettings;
  readonly #p: (PartitionState | null)[];
  readonly #streams = new Map<string, StreamState>();
  #firstAtMs = NaN;
  /** The flow clock (see above), and the newest counter clock it has followed. */
  #maxAtMs = NaN;
  #rawMaxAtMs = NaN;
  #lastAnyEventAtMs = -Infinity;
  #busySinceMs = NaN;

  constructor(settings: WatermarkSettings) {
    this.#s = settings;
    this.#p = new Array(settings.partitions).fill(null);
  }

  partition(p: number): PartitionState | null {
    return this.#p[p] ?? null;
  }

  /** Whether a message is the next one of its partition, one seen before, or one after a gap. */
  admit(h: PartialHead): Admission {
    if (h.partition >= this.#s.partitions) return 'gap';
    const st = this.#p[h.partition];
    const coveredTo = st?.coveredTo ?? 0;
    if (h.to === h.after) {
      // A heartbeat: it claims no events, only the partition's time, as of `to`.
      if (h.to < coveredTo || (st && !st.complete)) return 'duplicate';
      return h.to === coveredTo ? 'apply' : 'gap';
    }
    if (h.to < coveredTo) return 'duplicate';
    if (h.to === coveredTo && st) {
      if (h.part <= st.lastPart) return 'duplicate';
      return h.part === st.lastPart + 1 && !st.complete ? 'apply' : 'gap';
    }
    return h.after === coveredTo && h.part === 0 && (st?.complete ?? true) ? 'apply' : 'gap';
  }

  /**
   * An operator accepted a gap: the partition's partials up to `after` are not coming (they
   * expired before this shard read them); the next one starts there.
   */
  acceptGap(partition: number, after: number, rawAtMs: number): void {
    const atMs = this.#flowOf(rawAtMs);
    let st = this.#p[partition];
    if (!st) st = this.#p[partition] = { coveredTo: 0, lastPart: -1, complete: true, wmMs: 0, maxEventMs: null, firstAtMs: atMs, lastAtMs: atMs, lastEventAtMs: -Infinity };
    st.coveredTo = after;
    st.lastPart = -1;
    st.complete = true;
  }

  /** Records an admitted message. */
  observe(h: PartialHead): void {
    const at = this.#advance(h.atMs, 2 * h.batchMs + 1000);
    if (Number.isNaN(this.#firstAtMs)) this.#firstAtMs = at;
    let st = this.#p[h.partition];
    if (!st) {
      st = { coveredTo: 0, lastPart: -1, complete: true, wmMs: 0, maxEventMs: null, firstAtMs: at, lastAtMs: at, lastEventAtMs: -Infinity };
      this.#p[h.partition] = st;
    }
    if (h.to !== h.after) {
      st.coveredTo = h.to;
      st.lastPart = h.part;
      st.complete = h.last;
    }
    if (at > st.lastAtMs) st.lastAtMs = at;
    // A partial's time (its watermark, its newest line times) is the whole partial's, and
    // every part carries it: it counts once its last part is in. Taken from the first, the
    // batches behind it closed while later parts still held their lines (bench:cluster:
    // 1,000 to 13,068 of 1M lines late, from partials of megabytes). That lines are coming
    // (idleness) counts from the first part.
    const last = h.last;
    if (last && h.wmMs > st.wmMs) st.wmMs = h.wmMs;
    if (last && h.maxEventMs !== null && !(h.maxEventMs <= (st.maxEventMs ?? -Infinity))) st.maxEventMs = h.maxEventMs;
    if (h.rangeEvents > 0 && h.to !== h.after) {
      // The first events after a quiet spell start the idleness clocks again.
      if (at - this.#lastAnyEventAtMs > this.#s.idleTimeoutMs) this.#busySinceMs = at;
      if (at > this.#lastAnyEventAtMs) this.#lastAnyEventAtMs = at;
      if (at > st.lastEventAtMs) st.lastEventAtMs = at;
      for (const [source, ms] of h.sources) {
        const key = `${h.partition}/${source}`;
        let stream = this.#streams.get(key);
        // (A stream first seen in a part before the last holds everything back until that part.)
        if (!stream) this.#streams.set(key, (stream = { maxEventMs: -Infinity, firstAtMs: at, lastEventAtMs: at }));
        if (last && ms > stream.maxEventMs) stream.maxEventMs = ms;
        if (at > stream.lastEventAtMs) stream.lastEventAtMs = at;
      }
    }
  }

  /** Moves the flow clock on to a message's counter clock, by `stepCap` at most; returns the message's flow time. */
  #advance(rawAtMs: number, stepCap: number): number {
    if (Number.isNaN(this.#rawMaxAtMs)) {
      this.#rawMaxAtMs = this.#maxAtMs = rawAtMs;
    } else if (rawAtMs > this.#rawMaxAtMs) {
      this.#maxAtMs += Math.min(rawAtMs - this.#rawMaxAtMs, stepCap);
      this.#rawMaxAtMs = rawAtMs;
    }
    return this.#flowOf(rawAtMs);
  }

  /** A counter clock on the flow clock: as far behind the newest as it is behind the newest counter clock. */
  #flowOf(rawAtMs: number): number {
    return Number.isNaN(this.#rawMaxAtMs) ? rawAtMs : this.#maxAtMs - (this.#rawMaxAtMs - rawAtMs);
  }

  /**
   * Batches ending at or before this time can close (ms); -Infinity while an input that
   * counts has said nothing yet. In event time, when every input is idle, every open batch
   * can (Infinity: `flushAfterIdle` of the single process).
   *
   * When every log stops, the last batches still close: counters publish a heartbeat every
   * interval, so the flow clock goes on. In processing time a heartbeat's watermark is the
   * counter's clock less a second (caught up), which moves with time, as Flink's
   * processing-time timers fire with no input. In event time nothing moves the line times,
   * so every input turns idle after `idleTimeout` and everything open closes: end of input,
   * as Flink's bounded sources end with the maximum watermark (idleness alone would hold
   * it when all inputs are idle, and the last batches would never close).
   */
  closeLimitMs(): number {
    if (Number.isNaN(this.#maxAtMs)) return -Infinity;
    const idle = this.#s.idleTimeoutMs;
    if (!this.#s.eventTime) {
      let min = Infinity;
      let max = -Infinity;
      let active = 0;
      for (const st of this.#p) {
        if (st && st.wmMs > max) max = st.wmMs;
        // A partition no message has come from yet is waited for, `idleTimeout` from the first message.
        if (st ? this.#maxAtMs - st.lastAtMs > idle : this.#maxAtMs - this.#firstAtMs > idle) continue;
        if (!st) return -Infinity;
        active++;
        min = Math.min(min, st.wmMs);
      }
      return active === 0 ? max : min;
    }
    const busySince = Number.isNaN(this.#busySinceMs) ? -Infinity : this.#busySinceMs;
    if (this.#maxAtMs - busySince < idle) return -Infinity;
    let min = Infinity;
    let max = -Infinity;
    let active = 0;
    for (const st of this.#streams.values()) {
      if (st.maxEventMs > max) max = st.maxEventMs;
      if (this.#maxAtMs - Math.max(st.firstAtMs, st.lastEventAtMs, busySince) > idle) continue;
      active++;
      min = Math.min(min, st.maxEventMs);
    }
    // Every input idle: every open batch can close (Infinity: the caller closes what is open).
    if (active === 0) return max === -Infinity ? -Infinity : Infinity;
    return min - this.#s.watermarkMs;
  }

  /** The newest line time of any input (event time), for lines without one. */
  get maxEventMs(): number | null {
    let max: number | null = null;
    for (const st of this.#streams.values()) if (st.maxEventMs !== -Infinity && (max === null || st.maxEventMs > max)) max = st.maxEventMs;
    return max;
  }

  state(): WatermarksState {
    return {
      partitions: this.#p.map((st) => (st ? { ...st } : null)),
      streams: [...this.#streams].map(([k, st]) => [k, { ...st }]),
      firstAtMs: this.#firstAtMs,
      maxAtMs: this.#maxAtMs,
      rawMaxAtMs: this.#rawMaxAtMs,
      lastAnyEventAtMs: this.#lastAnyEventAtMs,
      busySinceMs: this.#busySinceMs,
    };
  }

  restore(s: WatermarksState): void {
    // (Through JSON: -Infinity and NaN come back as null.)
    s.partitions.forEach((st, p) => {
      if (p < this.#p.length) this.#p[p] = st ? { ...st, lastEventAtMs: st.lastEventAtMs ?? -Infinity } : null;
    });
    for (const [k, st] of s.streams ?? []) this.#streams.set(k, { ...st, maxEventMs: st.maxEventMs ?? -Infinity });
    this.#firstAtMs = s.firstAtMs ?? NaN;
    this.#maxAtMs = s.maxAtMs ?? NaN;
    this.#rawMaxAtMs = s.rawMaxAtMs ?? this.#maxAtMs;
    this.#lastAnyEventAtMs = s.lastAnyEventAtMs ?? -Infinity;
    this.#busySinceMs = s.busySinceMs ?? NaN;
  }
}
