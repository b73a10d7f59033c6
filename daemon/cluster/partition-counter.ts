import type { Bus, BusMessage, BusReader, Records, StreamState } from './bus.js';
import type { Logger } from '../log.js';
import { PartialBuilder, type PartialPlace } from './partial-counts.js';
import { PartitionProgress, type Progress } from './partition-progress.js';
import { gapAccepted, oversizedUrls, partialPublishFailed, partitionFenced, partitionGap, partitionTaken } from '../telemetry/index.js';

/**
 * A partial is cut early (at a message boundary) past this many distinct (batch, URL)
 * pairs: a counter catching up on a backlog would otherwise hold it all in one partial.
 * What a message may hold is the cut by bytes (partial-wire.ts), not this.
 */
const MAX_ENTRIES = 200_000;
/** An idle partition moves its `covered` up to the stream's end this often (it holds back trimming). */
const IDLE_COVER_MS = 5_000;
/**
 * Processing time, caught up: events stored from now on carry the server's clock, which may
 * be behind this process's by this much (a watermark ahead of it would make them late).
 */
const CLOCK_SKEW_MS = 1_000;

export interface PartitionSettings {
  readonly input: string;
  /** `<inputSubject>.<partition>.>` are the partition's events (one subject per edge). */
  readonly inputSubject: string;
  readonly outputSubject: string;
  readonly shards: number;
  readonly newBuilder: () => PartialBuilder;
}

/** A cut partial waiting to be published, oldest first. */
interface Unsent {
  readonly builder: PartialBuilder;
  readonly place: PartialPlace;
  /** Its `pending` record is written (by this counter or, for a takeover, the one before). */
  intentWritten: boolean;
  messages: Buffer[][] | undefined;
}

/** What the counter's stats show of a partition. */
export interface PartitionFigures {
  readonly partition: number;
  readonly covered: number;
  /** Events of the partition stored and not yet in a published partial, as far as known. */
  readonly lagMessages: number;
  /** How long ago the oldest uncounted event was stored (0 when caught up). */
  readonly lagSeconds: number;
  readonly publishFailures: number;
  /** Set when events were removed before they were counted: the partition is stopped. */
  readonly gap: { readonly from: number; readonly to: number } | null;
  /** Lines counted and (URL, count) pairs published, for the cost per pair (bench:cluster). */
  readonly linesOut: number;
  readonly pairsOut: number;
}

/**
 * One partition a counter owns. Reads its events after `covered` (its progress record),
 * counts them into partials, and publishes each to every merge shard through the progress
 * protocol (partition-progress.ts): the record says "pending" before a partial goes out
 * and "covered" after, each write fenced on the last. A partial covers `(after, to]` and
 * shards check that each follows the last, so a partial lost on the way (the counts stream
 * expired it) is seen, not skipped. With nothing to count it publishes a heartbeat (the
 * partition's processing time, so merge watermarks move on).
 */
export class PartitionCounter {
  readonly partition: number;
  readonly #bus: Bus;
  readonly #s: PartitionSettings;
  readonly #log: Logger;
  readonly #progress: PartitionProgress;
  #builder: PartialBuilder;
  /** A takeover's first partial is its predecessor's pending one: events up to here go in it. */
  #cutAt: number | undefined;
  readonly #unsent: Unsent[] = [];
  #reader: BusReader | undefined;
  #fenced = false;
  #gap: { from: number; to: number } | null = null;
  #failures = 0;
  #publishFailures = 0;
  #linesOut = 0;
  #pairsOut = 0;
  /** The last message read, its stored time and what the server said was pending after it. */
  #lastRead = 0;
  #lastReadMs = 0;
  #pendingAfterLast = 0;
  /** Every event of the partition up to here has been read (at least). */
  #readThrough: number;
  /** `#readThrough` when the stream's state was last asked (`mark`), and as of the last check. */
  #marked: number;
  #checkedThrough: number;
  #lastIdleCover = 0;
  /** Each edge subject's last message read: trimming keeps it (the edge resumes from it). */
  readonly lastBySubject = new Map<string, number>();

  private constructor(partition: number, bus: Bus, settings: PartitionSettings, progress: PartitionProgress, log: Logger) {
    this.partition = partition;
    this.#bus = bus;
    this.#s = settings;
    this.#progress = progress;
    this.#log = log.child({ partition });
    this.#builder = settings.newBuilder();
    this.#readThrough = progress.value.covered;
    this.#marked = this.#checkedThrough = progress.value.covered;
  }

  /**
   * Called right before the stream's state is read for `flush`: what was read by then
   * was delivered before any removal the state shows, so a removal past it is a gap.
   */
  mark(): void {
    this.#marked = this.#readThrough;
  }

  static async open(partition: number, bus: Bus, records: Records, settings: PartitionSettings, log: Logger): Promise<PartitionCounter> {
    const progress = await PartitionProgress.open(records, partition);
    const pc = new PartitionCounter(partition, bus, settings, progress, log);
    const { covered, pending } = progress.value;
    if (pending) pc.#cutAt = pending.to;
    pc.#lastRead = covered;
    pc.#reader = bus.read(settings.input, `${settings.inputSubject}.${partition}.>`, covered + 1, (m) => pc.#onMessage(m));
    partitionTaken.emit(pc.#log, { resumeAfter: covered, pending: pending?.to ?? null });
    return pc;
  }

  #onMessage(m: BusMessage): void {
    if (this.#gap) return;
    this.#lastRead = m.seq;
    this.#lastReadMs = m.timeMs;
    this.#pendingAfterLast = m.pending ?? 0;
    if (m.seq > this.#readThrough) this.#readThrough = m.seq;
    this.lastBySubject.set(m.subject, m.seq);
    const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
    const source = m.subject.slice(m.subject.lastIndexOf('.') + 1);
    // Past the predecessor's pending partial: that one is complete, this goes in the next.
    if (this.#cutAt !== undefined && m.seq > this.#cutAt) this.#completePending();
    const b = this.#builder;
    b.add(m.seq, data, m.timeMs, source);
    // (Not while re-counting a predecessor's pending partial: that one is cut where it was.)
    if (this.#cutAt === undefined && b.entries >= MAX_ENTRIES) this.#cut(m.seq, Date.now(), Math.max(this.#watermark(), m.timeMs));
  }

  get fenced(): boolean {
    return this.#fenced;
  }

  get figures(): PartitionFigures {
    const builders = [...this.#unsent.map((u) => u.builder), this.#builder];
    let read = 0;
    let oldestMs = 0;
    for (const b of builders) {
      read += b.messages;
      if (oldestMs === 0 && b.messages > 0) oldestMs = b.firstTimeMs;
    }
    if (oldestMs === 0 && this.#pendingAfterLast > 0) oldestMs = this.#lastReadMs;
    return {
      partition: this.partition,
      covered: this.#progress.value.covered,
      lagMessages: read + this.#pendingAfterLast,
      lagSeconds: oldestMs === 0 ? 0 : Math.max(0, Math.round((Date.now() - oldestMs) / 100) / 10),
      publishFailures: this.#publishFailures,
      gap: this.#gap,
      linesOut: this.#linesOut,
      pairsOut: this.#pairsOut,
    };
  }

  get progress(): Progress {
    return this.#progress.value;
  }

  #watermark(): number {
    return this.#unsent.at(-1)?.place.wmMs ?? this.#progress.value.wmMs;
  }

  /** The predecessor's pending partial has all its events: it goes out first, as it was. */
  #completePending(): void {
    const pending = this.#progress.value.pending!;
    const place = { partition: this.partition, after: this.#progress.value.covered, to: pending.to, atMs: pending.atMs, wmMs: pending.wmMs };
    this.#unsent.push({ builder: this.#builder, place, intentWritten: true, messages: undefined });
    this.#builder = this.#s.newBuilder();
    this.#cutAt = undefined;
  }

  #cut(to: number, atMs: number, wmMs: number): void {
    const after = this.#unsent.at(-1)?.place.to ?? this.#progress.value.covered;
    this.#unsent.push({ builder: this.#builder, place: { partition: this.partition, after, to, atMs, wmMs }, intentWritten: false, messages: undefined });
    this.#builder = this.#s.newBuilder();
  }

  /**
   * Once per batch interval: cuts what was counted, publishes what waits, or a heartbeat.
   * `stream` is the events stream's state, read once per interval for every partition.
   */
  async flush(stream: StreamState, maxBytes: number): Promise<void> {
    if (this.#fenced) return;
    if (this.#gap) {
      // Stopped until someone decides: an operator who accepts the gap, or another owner.
      const written = await this.#progress.written();
      if (written?.acceptGapTo !== undefined && written.acceptGapTo >= this.#gap.to) this.#acceptGap(written.revision, written.acceptGapTo, stream);
      else if (written) {
        this.#fenced = true;
        return;
      } else return;
    }
    const covered = this.#progress.value.covered;
    // Events gone before they were read: never skipped. Everything up to `#checkedThrough`
    // was read at the last check, and the partition's events up to `covered` are counted;
    // a first sequence past both means messages after them went before this counter read
    // them. (Trimming stays below the lowest `covered` of all partitions, so only the
    // stream's limits, or a hand, do this. Not `#checkedThrough` alone: a partition whose
    // partial took events read after the last check covers past it, and a counter's trim
    // up to that coverage, other partitions' events, was taken for a gap under load.)
    const safeThrough = Math.max(this.#checkedThrough, covered);
    if (stream.firstSeq > safeThrough + 1) {
      this.#gap = { from: safeThrough + 1, to: stream.firstSeq - 1 };
      partitionGap.emit(this.#log, { covered, missingFrom: this.#gap.from, missingTo: this.#gap.to });
      await this.#reader?.stop();
      return;
    }
    this.#checkedThrough = Math.max(this.#checkedThrough, this.#marked);
    const now = Date.now();
    // Anything of this partition stored and not read yet? (Asked after the stream's state.)
    const from = Math.max(this.#lastRead, this.#readThrough) + 1;
    const next = await this.#bus.nextOnSubject(this.#s.input, `${this.#s.inputSubject}.${this.partition}.>`, from);
    const caughtUp = next === undefined || next.seq > stream.lastSeq;
    if (this.#cutAt !== undefined) {
      if (this.#lastRead >= this.#cutAt || (caughtUp && (next === undefined || next.seq > this.#cutAt))) this.#completePending();
    } else {
      // Processing time: events stored before the first unread one are all counted by this
      // partial; with none unread, events stored before the stream's state was asked (an
      // event stored since has a later time, but for the servers' clock skew: a tick on a
      // busy box can take seconds, and `now` made events stored meanwhile late).
      const wmMs = Math.max(this.#watermark(), caughtUp ? Math.max(stream.lastTs, stream.askedAtMs - CLOCK_SKEW_MS) : next.timeMs);
      const lastCut = this.#unsent.at(-1)?.place.to ?? covered;
      const idleCover = caughtUp && stream.lastSeq > lastCut && now - this.#lastIdleCover >= IDLE_COVER_MS;
      // Caught up: nothing of this partition is unread up to the stream's last sequence (the
      // gap check above passed), so a later trim up to there is no gap. (Checked only up to
      // what was read, an idle partition whose coverage moved on took a trim for a gap.)
      if (caughtUp) this.#checkedThrough = Math.max(this.#checkedThrough, stream.lastSeq);
      if (this.#builder.events > 0 || idleCover) {
        if (caughtUp) this.#readThrough = Math.max(this.#readThrough, stream.lastSeq);
        this.#cut(caughtUp ? Math.max(this.#builder.lastSeq, stream.lastSeq) : this.#builder.lastSeq, now, wmMs);
        if (this.#builder.events === 0) this.#lastIdleCover = now;
      } else if (this.#unsent.length === 0) {
        await this.#heartbeat(now, wmMs, maxBytes);
        return;
      }
    }
    await this.#publishUnsent(maxBytes);
  }

  /**
   * The operator accepted the gap up to `to`: an empty partial `(covered, to]` goes out the
   * usual way (every shard sees the partition go on, and nothing counted for the lost
   * events), and reading starts again after it.
   */
  #acceptGap(revision: number, to: number, stream: StreamState): void {
    this.#progress.adopt(revision);
    gapAccepted.emit(this.#log, { from: this.#gap!.from, to, notCounted: `events ${this.#gap!.from}-${to}` });
    this.#gap = null;
    this.#builder = this.#s.newBuilder();
    this.#unsent.length = 0;
    const covered = this.#progress.value.covered;
    this.#unsent.push({ builder: this.#s.newBuilder(), place: { partition: this.partition, after: covered, to, atMs: Date.now(), wmMs: Math.max(this.#watermark(), stream.lastTs) }, intentWritten: false, messages: undefined });
    this.#lastRead = this.#readThrough = this.#marked = this.#checkedThrough = to;
    this.#reader = this.#bus.read(this.#s.input, `${this.#s.inputSubject}.${this.partition}.>`, to + 1, (m) => this.#onMessage(m));
  }

  async #publishUnsent(maxBytes: number): Promise<void> {
    while (!this.#fenced && this.#unsent.length > 0) {
      const u = this.#unsent[0]!;
      const p = this.#progress.value;
      try {
        if (!u.intentWritten) {
          if (!(await this.#write({ covered: p.covered, wmMs: p.wmMs, pending: { to: u.place.to, atMs: u.place.atMs, wmMs: u.place.wmMs } }))) return;
          u.intentWritten = true;
        }
        u.messages ??= u.builder.build(u.place, this.#s.shards, maxBytes);
        if (u.builder.oversizedUrls > 0) oversizedUrls.emit(this.#log, { lines: u.builder.oversizedUrls, maxBytes });
        await this.#publishShards(u.place, u.messages);
        if (!(await this.#write({ covered: u.place.to, wmMs: u.place.wmMs, pending: null }))) return;
        this.#unsent.shift();
        this.#linesOut += u.builder.events;
        this.#pairsOut += u.builder.entries;
        this.#failures = 0;
      } catch (err) {
        this.#publishFailures++;
        if (this.#failures++ % 50 === 0) partialPublishFailed.emit(this.#log, { err: (err as Error).message, attempt: this.#failures });
        return;
      }
    }
  }

  /** Every shard's messages, a shard's in order (each after the last is stored), shards at once. */
  async #publishShards(place: PartialPlace, messages: Buffer[][]): Promise<void> {
    await Promise.all(messages.map(async (parts, shard) => {
      for (let part = 0; part < parts.length; part++) {
        await this.#bus.publish(`${this.#s.outputSubject}.${shard}`, parts[part]!, { id: `${place.partition}:${place.to}:${shard}:${part}` });
      }
    }));
  }

  /** Nothing to count: the partition's processing time, to every shard (not fenced: it claims nothing new). */
  async #heartbeat(atMs: number, wmMs: number, maxBytes: number): Promise<void> {
    const covered = this.#progress.value.covered;
    const place = { partition: this.partition, after: covered, to: covered, atMs, wmMs };
    try {
      const messages = this.#s.newBuilder().build(place, this.#s.shards, maxBytes);
      await Promise.all(messages.map((parts, shard) => this.#bus.publish(`${this.#s.outputSubject}.${shard}`, parts[0]!, { id: `${place.partition}:${covered}:${shard}:hb${atMs}` })));
    } catch (err) {
      this.#publishFailures++;
      if (this.#failures++ % 50 === 0) partialPublishFailed.emit(this.#log, { err: (err as Error).message, attempt: this.#failures });
    }
  }

  async #write(next: Progress): Promise<boolean> {
    if (await this.#progress.write(next)) return true;
    this.#fenced = true;
    partitionFenced.emit(this.#log, {});
    return false;
  }

  /** Stops reading; `flush` first to hand over without recounting. */
  async close(): Promise<void> {
    await this.#reader?.stop();
  }
}
