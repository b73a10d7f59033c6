import type { EventBatch } from './event-batch.js';

/** The batches a channel holds in order, taken from the front without shifting an array per take. */
export class BatchQueue {
  readonly #batches: EventBatch[] = [];
  #head = 0;

  /** Batches queued (not taken yet). */
  get length(): number {
    return this.#batches.length - this.#head;
  }

  push(batch: EventBatch): void {
    this.#batches.push(batch);
  }

  /** Takes whole batches, at most `maxEvents` events (at least one batch when any is queued). */
  take(maxEvents: number): EventBatch[] {
    const taken: EventBatch[] = [];
    let events = 0;
    while (this.#head < this.#batches.length) {
      const next = this.#batches[this.#head]!;
      if (taken.length > 0 && events + next.count > maxEvents) break;
      taken.push(next);
      events += next.count;
      this.#head++;
    }
    // Drop the taken front now and then, not on every take.
    if (this.#head > 1024 && this.#head * 2 > this.#batches.length) {
      this.#batches.splice(0, this.#head);
      this.#head = 0;
    }
    return taken;
  }
}

/** Calls and forgets every waiter of `list` (puts waiting for room, sinks waiting for events). */
export function wakeAll(list: (() => void)[]): void {
  if (list.length === 0) return;
  const waiters = list.splice(0, list.length);
  for (const w of waiters) w();
}
