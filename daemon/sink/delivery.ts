import type { Channel, EventBatch } from '../channel/index.js';
import type { Logger } from '../log.js';
import type { LogEvent } from '../telemetry/index.js';
import type { StatsPart } from '../telemetry/stats.js';

const MIN_BACKOFF_MS = 50;

/** Why a delivery is retried: the call failed (`error`) or the next hop answered FAILED (`refused`). */
export type RetryReason = 'error' | 'refused';

export interface DeliveryFailure {
  readonly reason: RetryReason;
  readonly message: string;
}

/** How a sink's delivery runs. */
export interface DeliverySettings {
  /** Calls in flight at once. */
  readonly depth: number;
  readonly maxBackoffMs: number;
  /** The events: the first success after failures, and a failure. */
  readonly events: {
    readonly recovered: LogEvent<{ after: number }>;
    readonly failed: LogEvent<{ err: string; retryInMs: number; attempt: number }>;
  };
}

interface InFlight<Call> {
  readonly batches: EventBatch[];
  readonly call: Call;
  outcome: Promise<DeliveryFailure | undefined>;
}

/**
 * The pipelined delivery every sink runs: keeps up to `depth` calls in flight, commits a
 * take only when its call succeeded, and after a failure resends the calls that did not
 * succeed, in order, with exponential backoff. Calls behind a failed one may still have
 * been accepted: those are committed, not resent, so a next hop without deduplication
 * sees no event twice. A sink says how to make a call of a take and how to send it.
 */
export abstract class PipelinedSink<Call> {
  readonly name: string;
  readonly #channel: Channel;
  readonly #batchSize: number;
  readonly #settings: DeliverySettings;
  /** The sink's logger (`sink: <name>` on every line). */
  protected readonly log: Logger;
  #stopping = false;
  #stop: () => void = () => {};
  /** Resolves at stop: a send waiting for a next hop that is down may race it. */
  protected readonly stopped: Promise<DeliveryFailure>;
  #loop: Promise<void> = Promise.resolve();
  #eventsSent = 0;
  #failures = 0;
  readonly #retries: Record<RetryReason, number> = { error: 0, refused: 0 };

  constructor(config: { readonly name: string; readonly batchSize: number }, channel: Channel, logger: Logger, settings: DeliverySettings) {
    this.name = config.name;
    this.#channel = channel;
    this.#batchSize = config.batchSize;
    this.#settings = settings;
    this.log = logger.child({ sink: config.name });
    this.stopped = new Promise((resolve) => {
      this.#stop = () => resolve({ reason: 'error', message: 'stopping' });
    });
  }

  /** Made once per take and resent as it is (a message keeps its id across retries). */
  protected abstract prepare(batches: EventBatch[]): Call;
  /** Sends one call; resolves with the failure or undefined, never rejects. */
  protected abstract send(call: Call): Promise<DeliveryFailure | undefined>;
  /** After a failed call, before the backoff (e.g. drop the connection). */
  protected afterFailure(): void {}
  /** At stop, once the loop ended. */
  protected abstract closeConnection(): Promise<void>;

  get eventsSent(): number {
    return this.#eventsSent;
  }

  /** Deliveries retried so far, by reason. */
  get retries(): Readonly<Record<RetryReason, number>> {
    return { ...this.#retries };
  }

  /** Its figures in the agent's stats. */
  stats(): StatsPart {
    return { sinkRetries: this.retries };
  }

  start(): void {
    this.#loop = this.#run();
  }

  /** Delivers what the channel holds (until `deadlineMs`), then closes the connection. */
  async stop(deadlineMs = 5_000): Promise<void> {
    await waitForDrain(this.#channel, deadlineMs);
    this.#stopping = true;
    this.#stop();
    this.#channel.interrupt();
    await this.#loop;
    await this.closeConnection();
  }

  async #run(): Promise<void> {
    const { depth, maxBackoffMs, events } = this.#settings;
    const channel = this.#channel;
    const log = this.log;
    const pending: InFlight<Call>[] = [];
    let backoff = MIN_BACKOFF_MS;
    while (!this.#stopping) {
      while (pending.length < depth) {
        const batches = channel.take(this.#batchSize);
        if (batches.length === 0) break;
        const call = this.prepare(batches);
        pending.push({ batches, call, outcome: this.send(call) });
      }
      const head = pending[0];
      if (!head) {
        await channel.waitForEvents();
        continue;
      }
      const failure = await head.outcome;
      if (!failure) {
        pending.shift();
        this.#commit(head);
        if (this.#failures > 0) events.recovered.emit(log, { after: this.#failures });
        this.#failures = 0;
        backoff = MIN_BACKOFF_MS;
        continue;
      }
      const outcomes = await Promise.all(pending.map((p) => p.outcome));
      const failed = pending.filter((p, i) => {
        if (outcomes[i]) return true;
        this.#commit(p);
        return false;
      });
      pending.length = 0;
      pending.push(...failed);
      if (this.#stopping) break;
      this.#failures++;
      this.#retries[failure.reason]++;
      this.afterFailure();
      const level = this.#failures === 1 || this.#failures % 50 === 0 ? events.failed.level : 'debug';
      events.failed.emitAt(log, level, { err: failure.message, retryInMs: backoff, attempt: this.#failures });
      await sleep(backoff);
      backoff = Math.min(backoff * 2, maxBackoffMs);
      if (this.#stopping) break;
      for (const p of pending) p.outcome = this.send(p.call);
    }
  }

  #commit(call: InFlight<Call>): void {
    this.#eventsSent += commitDelivered(this.#channel, call.batches);
  }
}

/** What a sink's `build(config, ctx)` gets from the agent (components.ts BuildContext). */
export interface SinkContext {
  readonly logger: Logger;
  channel(name: string): Channel;
}

/** A sink as the agent runs it (components.ts): its retries are its figures. */
export function sinkComponent(sink: PipelinedSink<unknown>) {
  return {
    name: sink.name,
    start: async () => sink.start(),
    stop: () => sink.stop(),
    stats: () => sink.stats(),
  };
}

/**
 * Commits batches the next hop acknowledged and tells their sources (a file may finish,
 * its buffer be reused); returns the events committed. Every sink ends a delivery so.
 */
export function commitDelivered(channel: Channel, batches: readonly EventBatch[]): number {
  channel.commit(batches);
  let events = 0;
  for (const b of batches) {
    events += b.count;
    b.onDelivered?.();
    b.release?.();
  }
  return events;
}

/** At stop: gives the sink until `deadlineMs` to deliver what the channel holds. */
export async function waitForDrain(channel: Channel, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (channel.size > 0 && Date.now() < deadline) await sleep(20);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
