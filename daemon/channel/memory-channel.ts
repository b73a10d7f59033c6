import type { MemoryChannelConfig } from '../conf/index.js';
import { DEFAULT_KEEP_ALIVE_MS, waitForRoom, type Channel } from './channel.js';
import { BatchQueue, wakeAll } from './batch-queue.js';
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
  readonly #queue = new BatchQueue();
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
    return this.#queue.length;
  }

  async put(batch: EventBatch): Promise<void> {
    return this.putAll([batch]);
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
    wakeAll(this.#waitingTakers);
  }

  async close(): Promise<void> {}

  /** Takes whole batches, at most `maxEvents` events (at least one batch when any is queued). */
  take(maxEvents: number): EventBatch[] {
    return this.#queue.take(maxEvents);
  }

  /** Frees the room of batches the receiver acknowledged. */
  commit(taken: readonly EventBatch[]): void {
    for (const b of taken) this.#held -= b.count;
    wakeAll(this.#waitingPuts);
  }

  /** Resolves when something is queued (or at once if something already is). */
  async waitForEvents(): Promise<void> {
    if (this.queuedBatches > 0) return;
    await new Promise<void>((resolve) => this.#waitingTakers.push(resolve));
  }

  /** Wakes a waiting sink without data, so it can notice it is stopping. */
  interrupt(): void {
    wakeAll(this.#waitingTakers);
  }

  admitOverCapacity(): void {
    this.#overCapacity = true;
    wakeAll(this.#waitingPuts);
  }
}
