import type { EventBatch } from './event-batch.js';

/**
 * What sources and sinks need from a channel (memory or file): sources `put` batches and
 * wait for room; a sink `take`s batches and `commit`s them once the next hop answered OK.
 */
export interface Channel {
  readonly name: string;
  readonly capacity: number;
  readonly transactionCapacity: number;
  /** Events held: queued, or taken and not committed. */
  readonly size: number;
  /** Resolves once the batch is accepted (for a file channel: written and synced). */
  put(batch: EventBatch): Promise<void>;
  /** Several batches as one transaction: all of them are accepted, or none. */
  putAll(batches: readonly EventBatch[]): Promise<void>;
  take(maxEvents: number): EventBatch[];
  commit(taken: readonly EventBatch[]): void;
  waitForEvents(): Promise<void>;
  interrupt(): void;
  /**
   * At shutdown: puts waiting for room (and later ones) go in over capacity, so a source
   * blocked on a full channel can stop, its last batch kept rather than lost.
   */
  admitOverCapacity(): void;
  /** Releases files and locks (a no-op for the memory channel). */
  close(): Promise<void>;
}
