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
 * too, and `flushing` is true until it settles. Nothing may be queued meanwhile (the job
 * closes no batch while it waits), so what the flush wrote is all there was.
 */
export class ResultsOutbox {
  readonly #sink: WindowResultSink;
  readonly #log: Logger;
  readonly #maxWaitingBatches: number;
  #queue: Pending[] = [];
  #failures = 0;
  #lastFull: Extract<Pending, { kind: 'window' }> | undefined;
  #flushing = false;
  #batches = 0;
  #batchBytes = 0;

  constructor(sink: WindowResultSink, log: Logger, maxWaitingBatches = Infinity) {
    this.#sink = sink;
    this.#log = log;
    this.#maxWaitingBatches = maxWaitingBatches;
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** A flush waits for the store (an asynchronous write in flight). */
  get flushing(): boolean {
    return this.#flushing;
  }

  /** The store failed and too many results wait for it: events are to be refused until they are written. */
  get full(): boolean {
    return this.#failures > 0 && (this.#batches >= this.#maxWaitingBatches || this.#batchBytes >= MAX_WAITING_BYTES);
  }

  /** Queues a slide's result; `onWritten` runs once it (or a newer one replacing it) is stored. */
  saveWindow(result: WindowResult, onWritten?: () => void): void {
    this.#notFlushing();
    if (!result.rowOnly) {
      const prev = this.#lastFull;
      if (prev && !prev.superseded) {
        // The newer window replaces the older's top; the older keeps its row if it had one.
        if (!result.changed) result = { ...result, top: prev.result.top, changed: prev.result.changed };
        if (prev.result.changed) prev.result = { ...prev.result, top: [], rowOnly: true };
        else prev.superseded = true;
        prev.onWritten = undefined;
      }
    }
    const entry = { kind: 'window' as const, result, onWritten, superseded: false };
    if (!result.rowOnly) this.#lastFull = entry;
    this.#queue.push(entry);
  }

  saveBatch(batch: BatchResult): void {
    this.#notFlushing();
    this.#queue.push({ kind: 'batch', batch });
    this.#batches++;
    this.#batchBytes += batch.counts.length;
  }

  /**
   * Writes what waits, in order, up to `CHUNK` results per transaction; false if the store
   * failed (the rest waits for the next call). A promise of that when the store's client is
   * asynchronous.
   */
  flush(): boolean | Promise<boolean> {
    let i = 0;
    try {
      while (i < this.#queue.length) {
        const end = Math.min(this.#queue.length, i + CHUNK);
        const writing = this.#write(i, end);
        if (writing) return this.#flushAsync(writing, i, end);
        this.#written(i, end);
        i = end;
      }
    } catch (err) {
      return this.#failed(err, i);
    }
    return this.#done(i);
  }

  async #flushAsync(first: Promise<void>, from: number, firstEnd: number): Promise<boolean> {
    this.#flushing = true;
    let i = from;
    try {
      let writing: Promise<void> | void = first;
      let end = firstEnd;
      for (;;) {
        await writing;
        this.#written(i, end);
        i = end;
        if (i >= this.#queue.length) break;
        end = Math.min(this.#queue.length, i + CHUNK);
        writing = this.#write(i, end);
      }
    } catch (err) {
      return this.#failed(err, i);
    } finally {
      this.#flushing = false;
    }
    return this.#done(i);
  }

  #written(from: number, to: number): void {
    for (let j = from; j < to; j++) {
      const p = this.#queue[j]!;
      if (p.kind === 'window' && !p.superseded) p.onWritten?.();
    }
  }

  #failed(err: unknown, writtenTo: number): false {
    this.#queue = this.#queue.slice(writtenTo);
    this.#countBatches();
    if (this.#failures++ === 0) {
      resultsWriteFailed.emit(this.#log, { err, waiting: this.#queue.length });
    }
    return false;
  }

  #done(written: number): true {
    this.#queue = [];
    this.#lastFull = undefined;
    this.#batches = 0;
    this.#batchBytes = 0;
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
    if (this.#queue.length > 0 || !this.#sink.rollUp) return false;
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

  /** Writes queue[from, to) in one transaction; a promise when the store's client is asynchronous. */
  #write(from: number, to: number): Promise<void> | undefined {
    const items: ResultItem[] = [];
    for (let j = from; j < to; j++) {
      const p = this.#queue[j]!;
      if (p.kind === 'batch' || !p.superseded) items.push(p);
    }
    return this.#sink.write(items) ?? undefined;
  }

  #notFlushing(): void {
    // The job closes no batch while a write is in flight: what it wrote must be all there was.
    if (this.#flushing) throw new Error('results queued while a flush waits for the store');
  }
}
