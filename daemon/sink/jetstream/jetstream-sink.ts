import { randomUUID } from 'node:crypto';
import type { Channel, EventBatch } from '../../channel/index.js';
import type { Logger } from '../../log.js';
import { partitionOf, type Bus } from '../../bus/bus.js';
import { batchHeaders, encodeBatch, POSITION } from '../../bus/event-wire.js';
import { JetStreamBus } from '../../bus/jetstream/jetstream-bus.js';
import type { JetStreamSinkConfig } from './config.js';
import { commitDelivered, sleep, waitForDrain } from '../delivery.js';

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 2_000;
/** Takes from the channel in flight at once: publishes of one take run concurrently too. */
const PIPELINE_DEPTH = 8;

interface Message {
  readonly batch: EventBatch;
  readonly subject: string;
  readonly id: string;
  readonly data: Buffer;
  readonly headers: Record<string, string>;
}

interface InFlight {
  readonly batches: EventBatch[];
  readonly messages: Message[];
  done: Promise<Error | undefined>;
}

/**
 * Publishes every source batch as one message to `<subject>.<partition>`, the partition
 * a stable hash of the batch's file, so a file's lines stay in order in one partition. The
 * message id is the batch's position (`lf.pos`), so a resend after a lost acknowledgement
 * is dropped by the stream itself; the channel commits only after the acknowledgement.
 */
export class JetStreamSink {
  readonly name: string;
  readonly #config: JetStreamSinkConfig;
  readonly #channel: Channel;
  readonly #log: Logger;
  #bus: Promise<Bus> | undefined;
  #stopping = false;
  /** Resolves at stop: a publish waiting for a cluster that is down must not hold the stop. */
  readonly #stopped: Promise<Error>;
  #stop: () => void = () => {};
  #loop: Promise<void> = Promise.resolve();
  #eventsSent = 0;
  #failures = 0;

  constructor(config: JetStreamSinkConfig, channel: Channel, logger: Logger) {
    this.name = config.name;
    this.#config = config;
    this.#channel = channel;
    this.#log = logger.child({ sink: config.name });
    this.#stopped = new Promise((resolve) => {
      this.#stop = () => resolve(new Error('stopping'));
    });
  }

  get eventsSent(): number {
    return this.#eventsSent;
  }

  start(): void {
    this.#loop = this.#run();
  }

  /** Delivers what the channel holds (until `deadline`), then closes the connection. */
  async stop(deadlineMs = 5_000): Promise<void> {
    await waitForDrain(this.#channel, deadlineMs);
    this.#stopping = true;
    this.#stop();
    this.#channel.interrupt();
    await this.#loop;
    const bus = this.#bus;
    this.#bus = undefined;
    await bus?.then((b) => b.close(), () => {});
  }

  async #run(): Promise<void> {
    const pending: InFlight[] = [];
    let backoff = MIN_BACKOFF_MS;
    while (!this.#stopping) {
      while (pending.length < PIPELINE_DEPTH) {
        const batches = this.#channel.take(this.#config.batchSize);
        if (batches.length === 0) break;
        const messages = batches.filter((b) => b.count > 0).map((b) => this.#message(b));
        pending.push({ batches, messages, done: this.#publish(messages) });
      }
      const head = pending[0];
      if (!head) {
        await this.#channel.waitForEvents();
        continue;
      }
      const err = await Promise.race([head.done, this.#stopped]);
      if (!err) {
        pending.shift();
        this.#commit(head);
        if (this.#failures > 0) this.#log.info({ after: this.#failures }, 'jetstream sink delivering again');
        this.#failures = 0;
        backoff = MIN_BACKOFF_MS;
        continue;
      }
      // Every message carries its id: resending what was stored already is harmless.
      await Promise.race([Promise.all(pending.map((p) => p.done)), this.#stopped]);
      if (this.#stopping) break;
      this.#failures++;
      const level = this.#failures === 1 || this.#failures % 50 === 0 ? 'warn' : 'debug';
      this.#log[level]({ err: err.message, retryInMs: backoff, attempt: this.#failures }, 'jetstream sink publish failed; retrying');
      await sleep(backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      if (this.#stopping) break;
      for (const p of pending) p.done = this.#publish(p.messages);
    }
  }

  #message(batch: EventBatch): Message {
    const pos = batch.firstHeaders?.[POSITION];
    // Without a position (events from an avro source) a random id still makes retries safe.
    const id = pos ?? randomUUID();
    const fileKey = pos ? pos.slice(0, pos.lastIndexOf(':', pos.lastIndexOf(':') - 1)) : id;
    const subject = `${this.#config.subject}.${partitionOf(fileKey, this.#config.partitions)}`;
    return { batch, subject, id, data: encodeBatch(batch), headers: batchHeaders(batch) };
  }

  /** Publishes the messages concurrently; resolves with the first error, never rejects. */
  #publish(messages: Message[]): Promise<Error | undefined> {
    return this.#connected().then(
      (bus) => Promise.all(messages.map((m) => bus.publish(m.subject, m.data, { id: m.id, headers: m.headers }))),
    ).then(() => undefined, (err: Error) => err);
  }

  #commit(call: InFlight): void {
    this.#eventsSent += commitDelivered(this.#channel, call.batches);
  }

  #connected(): Promise<Bus> {
    if (this.#bus) return this.#bus;
    const c = this.#config;
    const connecting = JetStreamBus.connect(c.servers, `logflow-sink-${c.name}`, this.#log).then(async (bus) => {
      try {
        await bus.ensureStream({ name: c.stream, subject: c.subject, replicas: c.replicas });
      } catch (err) {
        await bus.close().catch(() => {});
        throw err;
      }
      return bus;
    });
    this.#bus = connecting;
    // A failed connection or stream check is tried again on the next publish.
    connecting.catch(() => {
      if (this.#bus === connecting) this.#bus = undefined;
    });
    return connecting;
  }
}
