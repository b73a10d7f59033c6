import { randomUUID } from 'node:crypto';
import type { Channel, EventBatch } from '../../channel/index.js';
import type { Logger } from '../../log.js';
import { partitionOf, type Bus } from '../../cluster/bus.js';
import { batchHeaders, encodeBatch, POSITION } from '../../cluster/event-wire.js';
import { JetStreamBus } from '../../cluster/jetstream-bus.js';
import type { JetStreamSinkConfig } from './config.js';
import { jetstreamSinkDeliveringAgain, jetstreamSinkPublishFailed } from '../../telemetry/index.js';
import { PipelinedSink, sinkComponent, type DeliveryFailure, type DeliverySettings, type SinkContext } from '../delivery.js';

interface Message {
  readonly batch: EventBatch;
  readonly subject: string;
  readonly id: string;
  readonly data: Buffer;
  readonly headers: Record<string, string>;
}

/** 8 takes from the channel in flight at once: publishes of one take run concurrently too. */
const DELIVERY: DeliverySettings = {
  depth: 8,
  maxBackoffMs: 2_000,
  events: { recovered: jetstreamSinkDeliveringAgain, failed: jetstreamSinkPublishFailed },
};

/**
 * Publishes every source batch as one message to `<subject>.<partition>`, the partition
 * a stable hash of the batch's file, so a file's lines stay in order in one partition. The
 * message id is the batch's position (`lf.pos`), so a resend after a lost acknowledgement
 * is dropped by the stream itself; the channel commits only after the acknowledgement.
 */
export class JetStreamSink extends PipelinedSink<Message[]> {
  readonly #config: JetStreamSinkConfig;
  #bus: Promise<Bus> | undefined;

  constructor(config: JetStreamSinkConfig, channel: Channel, logger: Logger) {
    super(config, channel, logger, DELIVERY);
    this.#config = config;
  }

  /** Made once per take: a resend keeps the message ids, so the stream drops repeats. */
  protected prepare(batches: EventBatch[]): Message[] {
    return batches.filter((b) => b.count > 0).map((b) => this.#message(b));
  }

  /** A publish waiting for a cluster that is down must not hold the stop. */
  protected send(messages: Message[]): Promise<DeliveryFailure | undefined> {
    return Promise.race([this.#publish(messages), this.stopped]);
  }

  protected async closeConnection(): Promise<void> {
    const bus = this.#bus;
    this.#bus = undefined;
    await bus?.then((b) => b.close(), () => {});
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
  #publish(messages: Message[]): Promise<DeliveryFailure | undefined> {
    return this.#connected().then(
      (bus) => Promise.all(messages.map((m) => bus.publish(m.subject, m.data, { id: m.id, headers: m.headers }))),
    ).then(() => undefined, (err: Error): DeliveryFailure => ({ reason: 'error', message: err.message }));
  }

  #connected(): Promise<Bus> {
    if (this.#bus) return this.#bus;
    const c = this.#config;
    const connecting = JetStreamBus.connect(c.servers, `logflow-sink-${c.name}`, this.log).then(async (bus) => {
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

/** `type = jetstream` (components.ts). */
export function build(config: JetStreamSinkConfig, ctx: SinkContext) {
  return sinkComponent(new JetStreamSink(config, ctx.channel(config.channel), ctx.logger));
}
