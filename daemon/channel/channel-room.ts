import { BatchQueue, wakeAll } from './batch-queue.js';
import { waitForRoom } from './channel.js';
import type { EventBatch } from './event-batch.js';
import { LogflowError } from '../errors.js';

/**
 * What the memory and the file channel share: the queue of batches, the room accounting
 * (events held = queued + taken and not committed) and the two kinds of waiters (puts
 * waiting for room, a sink waiting for events). Each channel adds only what it keeps
 * elsewhere (the file channel: its data files and checkpoint).
 */
export class ChannelRoom {
  readonly queue = new BatchQueue();
  readonly #name: string;
  readonly #capacity: number;
  readonly #transactionCapacity: number;
  #held = 0;
  readonly #waitingPuts: (() => void)[] = [];
  readonly #waitingTakers: (() => void)[] = [];
  #overCapacity = false;

  constructor(name: string, capacity: number, transactionCapacity: number) {
    this.#name = name;
    this.#capacity = capacity;
    this.#transactionCapacity = transactionCapacity;
  }

  /** Events held: queued, or taken and not committed. */
  get held(): number {
    return this.#held;
  }

  /**
   * Checks the transaction's size, waits for room (until `signal` aborts: LF_CHANNEL_FULL)
   * and reserves it; returns the events reserved.
   */
  async reserve(batches: readonly EventBatch[], signal?: AbortSignal, beforeWait?: () => void): Promise<number> {
    let events = 0;
    for (const b of batches) events += b.count;
    if (events > this.#transactionCapacity) {
      throw new LogflowError('LF_CHANNEL_TRANSACTION', `a put of ${events} events exceeds transactionCapacity ${this.#transactionCapacity}`);
    }
    beforeWait?.();
    while (!this.#overCapacity && this.#held + events > this.#capacity) {
      await waitForRoom(this.#waitingPuts, signal, this.#name);
    }
    this.#held += events;
    return events;
  }

  /** Puts waiting for room now (a test waits on one to know a source is blocked on a full channel). */
  get waitingPuts(): number {
    return this.#waitingPuts.length;
  }

  /** Counts events the channel holds without a put (read back after a restart). */
  hold(events: number): void {
    this.#held += events;
  }

  /** Frees room (committed, or a put that failed) and wakes the puts waiting for it. */
  release(events: number): void {
    this.#held -= events;
    wakeAll(this.#waitingPuts);
  }

  /** Tells a waiting sink that batches were queued. */
  eventsQueued(): void {
    wakeAll(this.#waitingTakers);
  }

  /** Resolves when something is queued (or at once if something already is). */
  async waitForEvents(): Promise<void> {
    if (this.queue.length > 0) return;
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
