import type { Logger } from '../log.js';
import type { BatchResult, ResultItem, WindowResult, WindowResultSink } from '../store/window-results.js';
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
 * outage holds a few MB, not an hour of top lists; and once more batches wait than
 * `maxWaitingBatches` (or 64 MB of them), `full` tells the job to refuse events, so the
 * channel and the spool hold them instead of this process's memory.
 *
 * A store with an asynchronous client returns a promise from its write: `flush` then does
 * too. It writes what was queued when it began; what the job queues meanwhile (it goes on
 * counting and closing batches) waits for the next flush, so the job checkpoints only when
 * a flush leaves nothing behind (`pending` is 0 when it settles).
 */
export class ResultsOutbox {
  readonly #sink: WindowResultSink;
  readonly #log: Logger;
  readonly #maxWaitingBatches: number;
  #queue: Pending[] = [];
  #failures = 0;
  #lastFull: Extract<Pending, { kind: 'window' }> | undefined;
  #batches = 0;
  #batchBytes = 0;

  constructor(sink: WindowResultSink, log: Logger, maxWaitingBatches = Infinity) {
    this.#sink = sink;
    this.#log = log;
    this.#maxWaitingBatches = maxWaitingBatches;
  }

  /** Results queued and not yet written (those of a write in flight included). */
  get pending(): number {
    return this.#queue.length + this.#inFlight;
  }

  #inFlight = 0;

  /** The store failed and too many results wait for it: events are to be refused until they are written. */
  get full(): boolean {
    return this.#failures > 0 && (this.#batches >= this.#maxWaitingBatches || this.#batchBytes >= MAX_WAITING_BYTES);
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
  }

  saveBatch(batch: BatchResult): void {
    this.#queue.push({ kind: 'batch', batch });
    this.#batches++;
    this.#batchBytes += batch.counts.length;
  }

  /**
   * Writes what waits, in order, up to `CHUNK` results per transaction; false if the store
   * failed (the rest waits for the next call). A promise of that when the store's client is
   * asynchronous; what is queued meanwhile is not part of this flush.
   */
  flush(): boolean | Promise<boolean> {
    const taken = this.#queue;
    // What comes from now on waits for the next flush, and supersedes nothing of this one.
    this.#queue = [];
    this.#lastFull = undefined;
    let i = 0;
    try {
      while (i < taken.length) {
        const end = Math.min(taken.length, i + CHUNK);
        const writing = this.#write(taken, i, end);
        if (writing) return this.#flushAsync(taken, writing, i, end);
        written(taken, i, end);
        i = end;
      }
    } catch (err) {
      return this.#failed(err, taken, i);
    }
    return this.#done(taken.length);
  }

  async #flushAsync(taken: Pending[], first: Promise<void>, from: number, firstEnd: number): Promise<boolean> {
    this.#inFlight = taken.length - from;
    let i = from;
    try {
      let writing: Promise<void> | undefined = first;
      let end = firstEnd;
      for (;;) {
        await writing;
        written(taken, i, end);
        this.#inFlight -= end - i;
        i = end;
        if (i >= taken.length) break;
        end = Math.min(taken.length, i + CHUNK);
        writing = this.#write(taken, i, end);
      }
    } catch (err) {
      this.#inFlight = 0;
      return this.#failed(err, taken, i);
    }
    this.#inFlight = 0;
    return this.#done(taken.length);
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
    this.#countBatches();
    if (this.#failures++ === 0) {
      resultsWriteFailed.emit(this.#log, { err, waiting: this.#queue.length });
    }
    return false;
  }

  #done(written: number): true {
    this.#countBatches();
    if (this.#failures > 0) {
      resultsWrittenAgain.emit(this.#log, { failedAttempts: this.#failures, written });
      this.#failures = 0;
    }
    return true;
  }

  #countBatches(): void {
    this.#batches = 0;
    this.#batchBytes = 0;
    for (const p of this.#queue) {
      if (p.kind !== 'batch') continue;
      this.#batches++;
      this.#batchBytes += p.batch.counts.length;
    }
  }

  /**
   * The store's background work (history rollups), once nothing waits; true if some remains.
   * A failure is logged with the store's others and retried at the next call.
   */
  rollUp(budgetMs: number): boolean | Promise<boolean> {
    if (this.pending > 0 || !this.#sink.rollUp) return false;
    const failed = (err: unknown) => {
      if (this.#failures++ === 0) rollupFailed.emit(this.#log, { err });
      return false;
    };
    try {
      const more = this.#sink.rollUp(budgetMs);
      return typeof more === 'boolean' ? more : more.catch(failed);
    } catch (err) {
      return failed(err);
    }
  }

  /** Writes taken[from, to) in one transaction; a promise when the store's client is asynchronous. */
  #write(taken: Pending[], from: number, to: number): Promise<void> | undefined {
    const items: ResultItem[] = [];
    for (let j = from; j < to; j++) {
      const p = taken[j]!;
      if (p.kind === 'batch' || !p.superseded) items.push(p);
    }
    return this.#sink.write(items) ?? undefined;
  }
}

/** The windows of taken[from, to) are stored: what readers see follows. */
function written(taken: Pending[], from: number, to: number): void {
  for (let j = from; j < to; j++) {
    const p = taken[j]!;
    if (p.kind === 'window' && !p.superseded) p.onWritten?.();
  }
}
