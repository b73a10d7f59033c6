import type { MemoryChannelConfig } from './memory-channel-config.js';
import { channelComponent, DEFAULT_KEEP_ALIVE_MS, type Channel } from './channel.js';
import { ChannelRoom } from './channel-room.js';
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
  readonly #room: ChannelRoom;

  constructor(config: Pick<MemoryChannelConfig, 'name' | 'capacity' | 'transactionCapacity' | 'keepAliveMs'> & { readonly type: string }) {
    this.name = config.name;
    this.capacity = config.capacity;
    this.transactionCapacity = config.transactionCapacity;
    this.keepAliveMs = config.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
    this.#room = new ChannelRoom(config.name, config.capacity, config.transactionCapacity);
  }

  /** Events the channel holds (queued or in a sink's open transaction). */
  get size(): number {
    return this.#room.held;
  }

  get waitingPuts(): number {
    return this.#room.waitingPuts;
  }

  get queuedBatches(): number {
    return this.#room.queue.length;
  }

  async put(batch: EventBatch): Promise<void> {
    return this.putAll([batch]);
  }

  async putAll(batches: readonly EventBatch[], signal?: AbortSignal): Promise<void> {
    await this.#room.reserve(batches, signal);
    for (const b of batches) this.#room.queue.push(b);
    this.#room.eventsQueued();
  }

  async close(): Promise<void> {}

  /** Takes whole batches, at most `maxEvents` events (at least one batch when any is queued). */
  take(maxEvents: number): EventBatch[] {
    return this.#room.queue.take(maxEvents);
  }

  /** Frees the room of batches the receiver acknowledged. */
  commit(taken: readonly EventBatch[]): void {
    let events = 0;
    for (const b of taken) events += b.count;
    this.#room.release(events);
  }

  waitForEvents(): Promise<void> {
    return this.#room.waitForEvents();
  }

  interrupt(): void {
    this.#room.interrupt();
  }

  admitOverCapacity(): void {
    this.#room.admitOverCapacity();
  }
}

/** `type = memory` (components.ts). */
export function build(config: MemoryChannelConfig) {
  return channelComponent(new MemoryChannel(config));
}
