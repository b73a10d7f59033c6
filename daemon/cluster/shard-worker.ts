import type { Bus, BusMessage, BusReader, Records } from './bus.js';
import { FencedError } from './bus.js';
import type { Logger } from '../log.js';
import { PartialCursor } from './partial-wire.js';
import { decodeResults, type RowMessage } from './results-wire.js';
import { ShardMerge, type ShardMergeSettings, type ShardMergeState } from './shard-merge.js';
import { WireError } from './wire-bytes.js';
import { notAPartialCount, resultsPublishFailed, shardFenced, shardGap, shardGapAccepted, shardReplayGap, shardTaken } from '../telemetry/index.js';

export interface ShardStreams {
  readonly input: string;
  readonly inputSubject: string;
  readonly output: string;
  readonly outputSubject: string;
}

/** What a shard's state record holds: the merge's state, and where its window's rows are. */
interface StateRecord {
  readonly merge: ShardMergeState;
  /** The results sequence of the first row of a batch in the window (null: none). */
  readonly rowsFrom: number | null;
  /** The results sequence of the last data message published before this record. */
  readonly dataThrough: number;
}

/** What the merge worker's stats show of a shard. */
export interface ShardFigures {
  readonly shard: number;
  /** The last counts-stream sequence applied, and batches closed below this one. */
  readonly applied: number;
  readonly closedThrough: number | null;
  readonly lagMessages: number;
  readonly lagSeconds: number;
  readonly waitingToPublish: number;
  readonly publishFailures: number;
  readonly distinctUrls: number;
  readonly gap: { readonly seq: number; readonly partition: number } | null;
  readonly pairsIn: number;
  readonly rowPairsOut: number;
}

/**
 * One shard a merge worker owns: rebuilt from the last owner's state record, the window's
 * rows and a replay of the open batches' partials; then fed the shard's partials as they
 * come, and once per batch interval publishing what the merge made (rows, windows), then
 * its state record, fenced on the last one (a worker that lost the shard fails there and
 * lets it go). The counts stream is trimmed below what a takeover would replay.
 */
export class ShardWorker {
  readonly shard: number;
  readonly #bus: Bus;
  readonly #streams: ShardStreams;
  readonly #merge: ShardMerge;
  readonly #log: Logger;
  #reader: BusReader | undefined;
  /** The sequence of the last state record on `.s` (the fence). */
  #stateSeq: number;
  #stateLastSeq: number;
  #dataThrough: number;
  /** Each batch in the window whose row was published: its first part's results sequence. */
  readonly #rowSeq = new Map<number, number>();
  #fenced = false;
  #gap: { seq: number; partition: number; after: number; data: Uint8Array } | null = null;
  #failures = 0;
  #publishFailures = 0;
  #pendingAfterLast = 0;
  #lastReadMs = 0;
  #trimmedBelow = 0;

  private constructor(shard: number, bus: Bus, streams: ShardStreams, merge: ShardMerge, log: Logger, stateSeq: number, record: StateRecord | undefined) {
    this.shard = shard;
    this.#bus = bus;
    this.#streams = streams;
    this.#merge = merge;
    this.#log = log.child({ shard });
    this.#stateSeq = stateSeq;
    this.#stateLastSeq = record?.merge.lastSeq ?? 0;
    this.#dataThrough = record?.dataThrough ?? 0;
  }

  static async open(shard: number, bus: Bus, streams: ShardStreams, settings: ShardMergeSettings, log: Logger): Promise<ShardWorker> {
    const merge = new ShardMerge(settings);
    const stateSubject = `${streams.outputSubject}.${shard}.s`;
    const last = await bus.lastOnSubject(streams.output, stateSubject);
    const record = last ? (JSON.parse(new TextDecoder().decode(last.data)) as StateRecord) : undefined;
    const w = new ShardWorker(shard, bus, streams, merge, log, last?.seq ?? 0, record);
    let windowRows = 0;
    if (record) {
      const st = record.merge;
      // The window's batches, as the rows published them (a repeat of a row is the same row).
      const parts = new Map<string, RowMessage>();
      const totals = new Map<number, number>();
      if (record.rowsFrom !== null && st.nextToClose !== null) {
        const oldest = st.nextToClose - merge.windowSlots;
        await bus.readRange(streams.output, `${streams.outputSubject}.${shard}.d`, record.rowsFrom, record.dataThrough, (m) => {
          const r = decodeResults(m.data);
          if (r.kind !== 'row' || r.slot < oldest || r.slot >= st.nextToClose! || parts.has(`${r.slot}:${r.part}`)) return;
          parts.set(`${r.slot}:${r.part}`, { ...r, sections: Buffer.from(r.sections), clients: r.clients && Buffer.from(r.clients) });
          totals.set(r.slot, (totals.get(r.slot) ?? 0) + r.events - r.parseErrors);
          w.#rowSeq.set(r.slot, Math.min(w.#rowSeq.get(r.slot) ?? Infinity, m.seq));
        });
      }
      const rows = [...totals].sort((a, b) => a[0] - b[0]).map(([slot, total]) => {
        const rowParts = [...parts].filter(([k]) => Number(k.slice(0, k.indexOf(':'))) === slot).sort((a, b) => partOf(a[0]) - partOf(b[0])).map(([, p]) => p);
        return { slot, parts: rowParts, total };
      });
      windowRows = rows.length;
      merge.restore(st, rows);
      // The open batches' URL counts, from the partials that made them (this shard trims
      // nothing it would replay: only the stream's limits can have removed them).
      const counts = await bus.streamState(streams.input);
      if (st.replayFrom <= st.lastSeq && counts.firstSeq > st.replayFrom) {
        w.#gap = { seq: st.replayFrom, partition: -1, after: -1, data: new Uint8Array() };
        shardReplayGap.emit(w.#log, { shard, replayFrom: st.replayFrom, firstSeq: counts.firstSeq });
        return w;
      }
      await bus.readRange(streams.input, `${streams.inputSubject}.${shard}`, st.replayFrom, st.lastSeq, (m) => {
        try {
          merge.replay(m.data);
        } catch (err) {
          if (!(err instanceof WireError)) throw err;
        }
      });
      merge.replayed();
    }
    const from = merge.lastSeq + 1;
    w.#reader = bus.read(streams.input, `${streams.inputSubject}.${shard}`, from, (m) => w.#onMessage(m));
    shardTaken.emit(w.#log, { shard, resumeAfter: merge.lastSeq, replayFrom: record?.merge.replayFrom ?? 1, windowRows });
    return w;
  }

  #onMessage(m: BusMessage): void {
    if (this.#gap) return;
    this.#pendingAfterLast = m.pending ?? 0;
    this.#lastReadMs = m.timeMs;
    let result;
    try {
      result = this.#merge.apply(m.seq, m.data);
    } catch (err) {
      if (!(err instanceof WireError)) throw err;
      this.#merge.skip(m.seq);
      notAPartialCount.emit(this.#log, { seq: m.seq, err: err.message });
      return;
    }
    if (result === 'gap') this.#stop(m.seq, m.data);
  }

  #stop(seq: number, data: Uint8Array): void {
    // (The head is read again for the log line: apply refused the message whole.)
    const head = new PartialCursor(data).head;
    this.#gap = { seq, partition: head.partition, after: head.after, data: Uint8Array.from(data) };
    shardGap.emit(this.#log, { shard: this.shard, seq, partition: head.partition, after: head.after, covered: this.#merge.state().watermarks.partitions[head.partition]?.coveredTo ?? 0 });
    void this.#reader?.stop();
  }

  get fenced(): boolean {
    return this.#fenced;
  }

  get figures(): ShardFigures {
    return {
      shard: this.shard,
      applied: this.#merge.lastSeq,
      closedThrough: Number.isNaN(this.#merge.nextToClose) ? null : this.#merge.nextToClose,
      lagMessages: this.#pendingAfterLast,
      lagSeconds: this.#pendingAfterLast === 0 || this.#lastReadMs === 0 ? 0 : Math.max(0, Math.round((Date.now() - this.#lastReadMs) / 100) / 10),
      waitingToPublish: this.#merge.outbox.length,
      publishFailures: this.#publishFailures,
      distinctUrls: this.#merge.distinctUrls,
      gap: this.#gap && { seq: this.#gap.seq, partition: this.#gap.partition },
      pairsIn: this.#merge.pairsIn,
      rowPairsOut: this.#merge.rowPairsOut,
    };
  }

  /**
   * A shard stopped by a gap goes on once an operator accepts it: the record
   * `accept-gap.shard.<q>` of the settings bucket saying `{"partition": p, "after": a}` with
   * the stopped partial's partition and `after` (in the log and /api/stats).
   */
  async checkGap(records: Records): Promise<void> {
    const gap = this.#gap;
    if (!gap || gap.partition < 0) return;
    const got = await records.get(`accept-gap.shard.${this.shard}`);
    if (!got) return;
    const accept = JSON.parse(new TextDecoder().decode(got.value)) as { partition?: unknown; after?: unknown };
    if (accept.partition !== gap.partition || accept.after !== gap.after) return;
    this.#merge.acceptGap(gap.data);
    shardGapAccepted.emit(this.#log, { shard: this.shard, partition: gap.partition, after: gap.after });
    this.#gap = null;
    const s = this.#streams;
    this.#reader = this.#bus.read(s.input, `${s.inputSubject}.${this.shard}`, gap.seq, (m) => this.#onMessage(m));
  }

  /** Publishes what the merge made since the last call, then the state record. */
  async publish(): Promise<void> {
    if (this.#fenced) return;
    const merge = this.#merge;
    const n = merge.outbox.length;
    if (n === 0 && merge.lastSeq === this.#stateLastSeq) return;
    // The state as of these messages (taken before any await: partials keep coming).
    const state = merge.state();
    const s = this.#streams;
    let sent = 0;
    try {
      for (; sent < n; sent++) {
        const m = merge.outbox[sent]!;
        const seq = await this.#bus.publish(`${s.outputSubject}.${this.shard}.d`, m.data, { id: m.id });
        this.#dataThrough = Math.max(this.#dataThrough, seq);
        if (m.rowSlot !== undefined && !this.#rowSeq.has(m.rowSlot)) this.#rowSeq.set(m.rowSlot, seq);
      }
      merge.outbox.splice(0, n);
      const oldest = (state.nextToClose ?? 0) - merge.windowSlots;
      for (const k of this.#rowSeq.keys()) if (k < oldest) this.#rowSeq.delete(k);
      const rowsFrom = this.#rowSeq.size > 0 ? Math.min(...this.#rowSeq.values()) : null;
      const record: StateRecord = { merge: state, rowsFrom, dataThrough: this.#dataThrough };
      this.#stateSeq = await this.#bus.publish(`${s.outputSubject}.${this.shard}.s`, new TextEncoder().encode(JSON.stringify(record)), {
        id: `${this.shard}:s:${state.lastSeq}`,
        expectLastOnSubject: this.#stateSeq,
      });
      this.#stateLastSeq = state.lastSeq;
      this.#failures = 0;
      await this.#trim(state.replayFrom);
    } catch (err) {
      merge.outbox.splice(0, sent);
      if (err instanceof FencedError) {
        this.#fenced = true;
        shardFenced.emit(this.#log, { shard: this.shard });
        return;
      }
      this.#publishFailures++;
      if (this.#failures++ % 50 === 0) resultsPublishFailed.emit(this.#log, { shard: this.shard, err: (err as Error).message, attempt: this.#failures });
    }
  }

  /** The shard's partials below what a takeover replays, and its older state records. */
  async #trim(replayFrom: number): Promise<void> {
    const s = this.#streams;
    if (replayFrom > this.#trimmedBelow + 100) {
      await this.#bus.purge(s.input, `${s.inputSubject}.${this.shard}`, replayFrom);
      this.#trimmedBelow = replayFrom;
      await this.#bus.purge(s.output, `${s.outputSubject}.${this.shard}.s`, this.#stateSeq);
    }
  }

  async close(): Promise<void> {
    await this.#reader?.stop();
  }
}

function partOf(key: string): number {
  return Number(key.slice(key.indexOf(':') + 1));
}
