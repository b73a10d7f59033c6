import type { Logger } from '../log.js';
import type { BatchResult, ResultItem, RestoredEpochs, WindowResult, WindowResultSink } from '../store/window-results.js';
import { resultsWriteFailed, resultsWrittenAgain, rollupFailed } from '../telemetry/index.js';

/**
 * Results per transaction: a replay's catch-up writes ~200,000 per second of work, and a
 * chunk keeps one transaction (and the memory of its journal) bounded.
 */
const CHUNK = 20_000;
/** Batch counts waiting past this many bytes make the job refuse events (`full`). */
const MAX_WAITING_BYTES = 64 * 1024 * 1024;

type Pending =
  | { readonly kind: 'batch'; readonly batch: BatchResult }
  | { readonly kind: 'window'; result: WindowResult; onWritten: (() => void) | undefined; superseded: boolean };

/**
 * Results on their way to the store, in the order the job made them. When the store fails
 * (the database locked by another process, a full disk, a server gone) they wait here and
 * are written by a later `flush`; the job checkpoints only once nothing waits, so a crash
 * meanwhile recounts from the last checkpoint instead of losing the unwritten rows. While
 * they wait, only the newest window keeps its top (older ones keep their row): an hour of
 * outage holds a few MB, not an hour of top lists; and once more than `maxWaitingSlides`
 * slides wait (or 64 MB of batch counts), `full` tells the job to refuse events, so the
 * channel and the spool hold them instead of this process's memory.
 *
 * The other way round, rows written and no checkpoint after them (a crash right after the
 * write, or a checkpoint outage): history rows are written as part of the current epoch,
 * which ends as a checkpoint is written and which that checkpoint records (`endEpoch`); at
 * start the store undoes the epochs the restored checkpoint does not cover (`restore`), so
 * the recount is not added twice.
 *
 * A store with an asynchronous client returns a promise from its write: `flush` then does
 * too. It takes the queue as it is and writes that; what the job queues meanwhile (it goes
 * on counting and closing batches) waits for the next flush, so the job checkpoints only
 * when a flush leaves nothing behind (`pending` is 0 when it settles). Such a store undoes
 * the unchecked epochs once it reaches its server (`restore` gets a promise): until then
 * nothing is written and no checkpoint is taken (`flush` answers false, not a failure).
 */
export class ResultsOutbox {
  readonly #sink: WindowResultSink;
  readonly #log: Logger;
  readonly #maxWaitingSlides: number;
  #queue: Pending[] = [];
  #failures = 0;
  #lastFull: Extract<Pending, { kind: 'window' }> | undefined;
  #batchBytes = 0;
  /** Slides waiting: the measure of how long the store has been failing while the job runs. */
  #windows = 0;
  /** Results of the write in flight (an asynchronous store). */
  #inFlight = 0;
  /** The epoch the history rows written now belong to. */
  #epoch = 1;
  /** An epoch a checkpoint covers that the store has not recorded yet (it is, with the next write). */
  #coveredToRecord: number | undefined;
  /** The store's restore, while it has not settled (an asynchronous store not reached yet). */
  #restoring: Promise<unknown> | undefined;

  constructor(sink: WindowResultSink, log: Logger, maxWaitingSlides = Infinity) {
    this.#sink = sink;
    this.#log = log;
    this.#maxWaitingSlides = maxWaitingSlides;
  }

  /** Results queued and not yet written (those of a write in flight included). */
  get pending(): number {
    return this.#queue.length + this.#inFlight;
  }

  /** The store failed (or is not reached yet) and too many results wait for it: events are to be refused until they are written. */
  get full(): boolean {
    // Slides, not history batches: a replay's history holds a batch per second of the lines'
    // own time (a 20,000-line log spanning 25 minutes: 1,500), however little it weighs.
    return (this.#failures > 0 || this.#restoring !== undefined) && (this.#windows >= this.#maxWaitingSlides || this.#batchBytes >= MAX_WAITING_BYTES);
  }

  /** Whether results wait to be written. */
  get waiting(): boolean {
    return this.pending > 0;
  }

  /**
   * At start, with the epoch the restored checkpoint covers: the store undoes what later
   * epochs wrote. Returns how many history rows it undid (a promise of it when the store is
   * asynchronous: nothing is written before it settles).
   */
  restore(checkpointCovered: number | undefined): number | Promise<number> {
    const restored = this.#sink.restoreEpochs(checkpointCovered);
    if (!(restored instanceof Promise)) {
      this.#epoch = restored.epoch;
      return restored.rolledBack;
    }
    const settled = restored.then((r: RestoredEpochs) => {
      this.#epoch = r.epoch;
      this.#restoring = undefined;
      return r.rolledBack;
    });
    this.#restoring = settled;
    return settled;
  }

  /** Ends the current epoch (a checkpoint is about to record it): later rows are the next one's. */
  endEpoch(): number {
    return this.#epoch++;
  }

  /** A checkpoint that covers epochs up to `epoch` has committed: the store records it with its next write. */
  committed(epoch: number): void {
    this.#coveredToRecord = epoch;
  }

  /** Queues a slide's result; `onWritten` runs once it (or a newer one replacing it) is stored. */
  saveWindow(result: WindowResult, onWritten?: () => void): void {
    this.#enqueueWindow({ kind: 'window', result, onWritten, superseded: false });
  }

  #enqueueWindow(entry: Extract<Pending, { kind: 'window' }>): void {
    if (!entry.result.rowOnly) {
      const prev = this.#lastFull;
      if (prev && !prev.superseded) {
        // The newer window replaces the older's top; the older keeps its row if it had one.
        if (!entry.result.changed) entry.result = { ...entry.result, top: prev.result.top, changed: prev.result.changed };
        if (prev.result.changed) prev.result = { ...prev.result, top: [], rowOnly: true };
        else prev.superseded = true;
        prev.onWritten = undefined;
      }
      this.#lastFull = entry;
    }
    this.#queue.push(entry);
    this.#windows++;
  }

  saveBatch(batch: BatchResult): void {
    this.#queue.push({ kind: 'batch', batch });
    this.#batchBytes += batch.counts.length;
  }

  /**
   * Writes what waits, in order, up to `CHUNK` results per transaction; false if the store
   * failed (the rest waits for the next call). A promise of that when the store's client is
   * asynchronous; what is queued meanwhile is not part of this flush.
   */
  flush(): boolean | Promise<boolean> {
    if (this.#restoring) return false;
    const taken = this.#queue;
    // What comes from now on waits for the next flush, and supersedes nothing of this one.
    this.#queue = [];
    this.#lastFull = undefined;
    let i = 0;
    try {
      while (i < taken.length) {
        const end = Math.min(taken.length, i + CHUNK);
        const covered = this.#coveredToRecord;
        const writing = this.#write(taken, i, end, covered);
        if (writing) return this.#flushAsync(taken, writing, i, end, covered);
        this.#recorded(covered);
        written(taken, i, end);
        i = end;
      }
    } catch (err) {
      return this.#failed(err, taken, i);
    }
    return this.#done(taken.length);
  }

  async #flushAsync(taken: Pending[], first: Promise<void>, from: number, firstEnd: number, firstCovered: number | undefined): Promise<boolean> {
    this.#inFlight = taken.length - from;
    let i = from;
    try {
      let writing: Promise<void> | undefined = first;
      let end = firstEnd;
      let covered = firstCovered;
      for (;;) {
        await writing;
        this.#recorded(covered);
        written(taken, i, end);
        this.#inFlight -= end - i;
        i = end;
        if (i >= taken.length) break;
        end = Math.min(taken.length, i + CHUNK);
        covered = this.#coveredToRecord;
        writing = this.#write(taken, i, end, covered);
      }
    } catch (err) {
      this.#inFlight = 0;
      return this.#failed(err, taken, i);
    }
    this.#inFlight = 0;
    return this.#done(taken.length);
  }

  /** The store has recorded `covered` (with a write): nothing to record until the next checkpoint. */
  #recorded(covered: number | undefined): void {
    if (covered !== undefined && this.#coveredToRecord === covered) this.#coveredToRecord = undefined;
  }

  /** The results not written go back in front of what was queued meanwhile. */
  #failed(err: unknown, taken: Pending[], writtenTo: number): false {
    // Queued again in order, the newer windows superseding the older as when they came.
    const queued = this.#queue;
    this.#queue = [];
    this.#lastFull = undefined;
    for (const list of [taken.slice(writtenTo), queued]) {
      for (const p of list) {
        if (p.kind === 'batch') this.#queue.push(p);
        else if (!p.superseded) this.#enqueueWindow(p);
      }
    }
    this.#countWaiting();
    if (this.#failures++ === 0) {
      resultsWriteFailed.emit(this.#log, { err, waiting: this.#queue.length });
    }
    return false;
  }

  #done(written: number): true {
    this.#countWaiting();
    if (this.#failures > 0) {
      resultsWrittenAgain.emit(this.#log, { failedAttempts: this.#failures, written });
      this.#failures = 0;
    }
    return true;
  }

  #countWaiting(): void {
    this.#batchBytes = 0;
    this.#windows = 0;
    for (const p of this.#queue) {
      if (p.kind === 'window') this.#windows++;
      else this.#batchBytes += p.batch.counts.length;
    }
  }

  /**
   * The store's background work (history rollups), once nothing waits; true if some remains.
   * A failure is logged with the store's others and retried at the next call.
   */
  rollUp(budgetMs: number, idle: boolean): boolean | Promise<boolean> {
    if (this.pending > 0 || this.#restoring || !this.#sink.rollUp) return false;
    const failed = (err: unknown) => {
      if (this.#failures++ === 0) rollupFailed.emit(this.#log, { err });
      return false;
    };
    try {
      const more = this.#sink.rollUp(budgetMs, idle);
      return typeof more === 'boolean' ? more : more.catch(failed);
    } catch (err) {
      return failed(err);
    }
  }

  /** Writes taken[from, to) in one transaction, as part of the current epoch; a promise when the store's client is asynchronous. */
  #write(taken: Pending[], from: number, to: number, covered: number | undefined): Promise<void> | undefined {
    const items: ResultItem[] = [];
    for (let j = from; j < to; j++) {
      const p = taken[j]!;
      if (p.kind === 'batch' || !p.superseded) items.push(p);
    }
    return this.#sink.write(items, this.#epoch, covered) ?? undefined;
  }
}

/** The windows of taken[from, to) are stored: what readers see follows. */
function written(taken: Pending[], from: number, to: number): void {
  for (let j = from; j < to; j++) {
    const p = taken[j]!;
    if (p.kind === 'window' && !p.superseded) p.onWritten?.();
  }
}
