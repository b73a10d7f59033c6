import { LogflowError } from '../errors.js';
import type { EventBatch } from './event-batch.js';
import type { StatsPart } from '../telemetry/stats.js';

/**
 * What sources and sinks need from a channel (memory or file): sources `put` batches and
 * wait for room; a sink `take`s batches and `commit`s them once the next hop answered OK.
 */
export interface Channel {
  readonly name: string;
  readonly capacity: number;
  readonly transactionCapacity: number;
  /** Flume's `keep-alive`: how long an avro source's put may wait for room. */
  readonly keepAliveMs: number;
  /** Events held: queued, or taken and not committed. */
  readonly size: number;
  /** Puts waiting for room now. */
  readonly waitingPuts: number;
  /** Resolves once the batch is accepted (for a file channel: written and synced). */
  put(batch: EventBatch): Promise<void>;
  /**
   * Several batches as one transaction: all of them are accepted, or none. With `signal`,
   * waiting for room ends when it aborts (the put then rejects with LF_CHANNEL_FULL).
   */
  putAll(batches: readonly EventBatch[], signal?: AbortSignal): Promise<void>;
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
  /**
   * A durable channel's name for a batch it holds, the same after a restart replays it
   * (`<epoch>:<sequence>`): a sink can tell a batch it delivered before a crash. Undefined
   * for the memory channel, whose batches do not survive one.
   */
  durableIdOf?(batch: EventBatch): string | undefined;
}

/** Flume's default `keep-alive` of its memory and file channels. */
export const DEFAULT_KEEP_ALIVE_MS = 3000;

/** Waits for a wake-up from `waiters`, or until `signal` aborts (then throws). */
export async function waitForRoom(waiters: (() => void)[], signal: AbortSignal | undefined, name: string): Promise<void> {
  if (signal?.aborted) throw channelFull(name);
  await new Promise<void>((resolve) => {
    waiters.push(resolve);
    // Aborted: out of the list too, or a channel full for long (an avro source answering
    // FAILED every keep-alive) would keep one resolver per refused call until room is made.
    signal?.addEventListener('abort', () => {
      const at = waiters.indexOf(resolve);
      if (at >= 0) waiters.splice(at, 1);
      resolve();
    }, { once: true });
  });
  if (signal?.aborted) throw channelFull(name);
}

function channelFull(name: string): LogflowError {
  return new LogflowError('LF_CHANNEL_FULL', `channel ${name} stayed full for its keep-alive`);
}

/**
 * A channel as the agent runs it (components.ts): opened first and closed last, as in
 * Flume. Its stop comes first too: puts waiting for room (and later ones) go in over
 * capacity, so a source blocked on a full channel (downstream down) can stop.
 */
export function channelComponent(channel: Channel, open: () => Promise<void> = async () => {}) {
  return {
    name: channel.name,
    channel,
    start: open,
    stop: async () => channel.admitOverCapacity(),
    close: () => channel.close(),
    stats: (): StatsPart => ({ channel: { size: channel.size, capacity: channel.capacity, waitingPuts: channel.waitingPuts } }),
  };
}
