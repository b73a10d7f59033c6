import type { CONSUME_ORDERS } from './spooldir-config.js';

/** A file found in the spool, with the size and mtime last seen (they must settle before it is read). */
export interface Candidate {
  readonly path: string;
  readonly name: string;
  size: number;
  mtimeMs: number;
}

type ConsumeOrder = (typeof CONSUME_ORDERS)[number];

/**
 * Files ready to read, in Flume's `consumeOrder`: oldest or youngest mtime first (the name
 * breaks ties), or random. Each file is inserted at its place (binary search), so the
 * reader takes the head without sorting and files found together are read in order.
 */
export class ReadyQueue {
  readonly #order: ConsumeOrder;
  #items: Candidate[] = [];
  readonly #paths = new Set<string>();

  constructor(order: ConsumeOrder) {
    this.#order = order;
  }

  get size(): number {
    return this.#items.length;
  }

  has(path: string): boolean {
    return this.#paths.has(path);
  }

  push(cand: Candidate): void {
    this.#paths.add(cand.path);
    const order = this.#order;
    if (order === 'random') {
      this.#items.splice(Math.floor(Math.random() * (this.#items.length + 1)), 0, cand);
      return;
    }
    const before = order === 'oldest'
      ? (a: Candidate, b: Candidate) => a.mtimeMs < b.mtimeMs || (a.mtimeMs === b.mtimeMs && a.name < b.name)
      : (a: Candidate, b: Candidate) => a.mtimeMs > b.mtimeMs || (a.mtimeMs === b.mtimeMs && a.name < b.name);
    let lo = 0;
    let hi = this.#items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.#items[mid]!, cand)) lo = mid + 1;
      else hi = mid;
    }
    this.#items.splice(lo, 0, cand);
  }

  /** The next file to read, taken off the queue. */
  shift(): Candidate | undefined {
    const next = this.#items.shift();
    if (next) this.#paths.delete(next.path);
    return next;
  }

  /** Takes a file off the queue (it is gone); false when it was not queued. */
  remove(path: string): boolean {
    if (!this.#paths.delete(path)) return false;
    const i = this.#items.findIndex((c) => c.path === path);
    if (i >= 0) this.#items.splice(i, 1);
    return i >= 0;
  }
}
