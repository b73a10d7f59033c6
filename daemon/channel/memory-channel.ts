import type { MemoryChannelConfig } from '../conf/index.js';
import { DEFAULT_KEEP_ALIVE_MS, waitForRoom, type Channel } from './channel.js';
import type { EventBatch } from './event-batch.js';

/**
 * Flume's memory channel, batch-wise: `put` waits while the channel holds `capacity`
 * events (backpressure, nothing is dropped); a sink `take`s up to a batch of events and
 * they keep their room until it `commit`s them, after the receiver answered OK.
 */
export class MemoryChannel implements Channel {
  readonly name: string;
  readonly capacity: number;
  readonly transactionCapacity: number;
  readonly keepAliveMs: number;
  readonly #queue: EventBatch[] = [];
  #head = 0;
  /** Events queued plus events taken but not committed. */
  #held = 0;
  #waitingPuts: (() => void)[] = [];
  #waitingTakers: (() => void)[] = [];
  #overCapacity = false;

  constructor(config: Pick<MemoryChannelConfig, 'name' | 'capacity' | 'transactionCapacity' | 'keepAliveMs'> & { readonly type: string }) {
    this.name = config.name;
    this.capacity = config.capacity;
    this.transactionCapacity = config.transactionCapacity;
    this.keepAliveMs = config.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
  }

  /** Events the channel holds (queued or in a sink's open transaction). */
  get size(): number {
    return this.#held;
  }

  get queuedBatches(): number {
    return this.#queue.length - this.#head;
  }

  async put(batch: EventBatch): Promise<void> {
    if (batch.count > this.transactionCapacity) {
      throw new RangeError(`a put of ${batch.count} events exceeds transactionCapacity ${this.transactionCapacity}`);
    }
    while (!this.#overCapacity && this.#held + batch.count > this.capacity) {
      await new Promise<void>((resolve) => this.#waitingPuts.push(resolve));
    }
    this.#held += batch.count;
    this.#queue.push(batch);
    this.#wake(this.#waitingTakers);
  }

  async putAll(batches: readonly EventBatch[], signal?: AbortSignal): Promise<void> {
    let events = 0;
    for (const b of batches) events += b.count;
    if (events > this.transactionCapacity) {
      throw new RangeError(`a put of ${events} events exceeds transactionCapacity ${this.transactionCapacity}`);
    }
    while (!this.#overCapacity && this.#held + events > this.capacity) {
      await waitForRoom(this.#waitingPuts, signal, this.name);
    }
    this.#held += events;
    for (const b of batches) this.#queue.push(b);
    this.#wake(this.#waitingTakers);
  }

  async close(): Promise<void> {}

  /** Takes whole batches, at most `maxEvents` events (at least one batch when any is queued). */
  take(maxEvents: number): EventBatch[] {
    const taken: EventBatch[] = [];
    let events = 0;
    while (this.#head < this.#queue.length) {
      const next = this.#queue[this.#head]!;
      if (taken.length > 0 && events + next.count > maxEvents) break;
      taken.push(next);
      events += next.count;
      this.#head++;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
    return taken;
  }

  /** Frees the room of batches the receiver acknowledged. */
  commit(taken: readonly EventBatch[]): void {
    for (const b of taken) this.#held -= b.count;
    this.#wake(this.#waitingPuts);
  }

  /** Resolves when something is queued (or at once if something already is). */
  async waitForEvents(): Promise<void> {
    if (this.queuedBatches > 0) return;
    await new Promise<void>((resolve) => this.#waitingTakers.push(resolve));
  }

  /** Wakes a waiting sink without data, so it can notice it is stopping. */
  interrupt(): void {
    this.#wake(this.#waitingTakers);
  }

  admitOverCapacity(): void {
    this.#overCapacity = true;
    this.#wake(this.#waitingPuts);
  }

  #wake(list: (() => void)[]): void {
    if (list.length === 0) return;
    const waiters = list.splice(0, list.length);
    for (const w of waiters) w();
  }
}
