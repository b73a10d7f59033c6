import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { Channel, EventBatch } from '../../channel/index.js';
import { sourceIdOfKey } from '../../channel/position-header.js';
import type { Logger } from '../../log.js';
import { ConfigError, LogflowError } from '../../errors.js';
import { FencedError, type Bus } from '../../cluster/bus.js';
import { agreeOnSettings } from '../../cluster/cluster-settings.js';
import { batchHeaders, CHANNEL_ID, encodeBatch, partitionOfBatch, POSITION } from '../../cluster/event-wire.js';
import { JetStreamBus } from '../../cluster/jetstream-bus.js';
import type { JetStreamSinkConfig } from './config.js';
import { clusterSettingsMismatch, edgeNotExactBeyondWindow, edgeSubjectResumed, jetstreamSinkDeliveringAgain, jetstreamSinkPublishFailed } from '../../telemetry/index.js';
import { PipelinedSink, sinkComponent, type DeliveryFailure, type DeliverySettings, type SinkContext } from '../delivery.js';

/** A take: its batches, made into messages once the server's max_payload is known (then resent as they are). */
interface Call {
  readonly batches: EventBatch[];
  messages: Message[] | undefined;
}

interface Message {
  readonly subject: string;
  readonly id: string;
  readonly data: Buffer;
  readonly headers: Record<string, string>;
  /** The batch's name in a durable channel and the message's part: `[epoch, sequence, part]`. */
  readonly durable: readonly [string, number, number] | undefined;
}

/** What this edge knows of one of its subjects (`<subject>.<partition>.<sourceId>`). */
interface SubjectState {
  /** The stream sequence of its last message there (undefined: to be looked up). */
  lastSeq: number | undefined;
  /** The durable name of that message (its batch in this channel), if it has one. */
  frontier: readonly [string, number, number] | undefined;
  lastId: string | undefined;
  /** Publishes on the subject go one after the other (each expects the last). */
  tail: Promise<void>;
  broken: boolean;
}

/** 8 takes from the channel in flight at once: publishes of one take run concurrently too. */
const DELIVERY: DeliverySettings = {
  depth: 8,
  maxBackoffMs: 2_000,
  events: { recovered: jetstreamSinkDeliveringAgain, failed: jetstreamSinkPublishFailed },
};
/** Room under the server's max_payload for a message's headers. */
const HEADER_ROOM = 8192;

/**
 * Publishes every source batch to `<subject>.<partition>.<sourceId>`: one subject per edge
 * and partition, the partition a hash of the batch's file extent (partitionOfBatch). On
 * each of its subjects an edge publishes in order, each message expecting the subject's
 * last to be its own previous one, so what the stream holds of a subject is always a prefix
 * of what the edge sent there; its last message says where that prefix ends.
 *
 * Exactly once, whatever the downtime: the message id (the batch's `lf.pos`) lets the
 * stream drop a resend within its duplicate window; past it, a resend of a message already
 * stored is recognised here, before it is sent: a durable (file) channel names each batch
 * (`lf.cid`), and after a restart a batch at or before the subject's last stored name is
 * committed without sending. Counters keep each edge subject's last message when they trim.
 */
export class JetStreamSink extends PipelinedSink<Call> {
  readonly #config: JetStreamSinkConfig;
  readonly #channel: Channel;
  readonly #subjects = new Map<string, SubjectState>();
  /** For batches with no position (relayed from an avro source): this process's own subjects. */
  readonly #relayId = `relay${randomBytes(4).toString('hex')}`;
  #bus: Promise<Bus> | undefined;
  #problem: string | undefined;
  /** Lines longer than a message, cut. */
  readonly #cut = { lines: 0 };

  constructor(config: JetStreamSinkConfig, channel: Channel, logger: Logger) {
    super(config, channel, logger, DELIVERY);
    this.#config = config;
    this.#channel = channel;
    if (!channel.durableIdOf) edgeNotExactBeyondWindow.emit(this.log, { channel: channel.name, duplicateWindowS: config.stream.limits.duplicateWindowMs / 1000 });
  }

  /** Connects (and creates the stream) at once, so the tiers after it need not wait for a first file. */
  override start(): void {
    super.start();
    this.#connected().catch(() => {});
  }

  protected prepare(batches: EventBatch[]): Call {
    return { batches: batches.filter((b) => b.count > 0), messages: undefined };
  }

  /** A publish waiting for a cluster that is down must not hold the stop. */
  protected send(call: Call): Promise<DeliveryFailure | undefined> {
    return Promise.race([this.#publish(call), this.stopped]);
  }

  /** Every call has settled: subjects whose order broke are looked up again before the resend. */
  protected override afterFailure(): void {
    for (const st of this.#subjects.values()) {
      if (!st.broken) continue;
      st.broken = false;
      st.tail = Promise.resolve();
      st.lastSeq = undefined;
    }
  }

  protected async closeConnection(): Promise<void> {
    const bus = this.#bus;
    this.#bus = undefined;
    await bus?.then((b) => b.close(), () => {});
  }

  #messages(batch: EventBatch, maxBytes: number): Message[] {
    const c = this.#config;
    const pos = batch.firstHeaders?.[POSITION];
    const headers = batchHeaders(batch);
    const durableId = this.#channel.durableIdOf?.(batch);
    let subject: string;
    let id: string;
    if (pos) {
      const parts = pos.split(':');
      const fileKey = parts.slice(0, -2).join(':');
      subject = `${c.stream.subject}.${partitionOfBatch(fileKey, Number(parts.at(-2)), c.partitionExtent, c.partitions)}.${sourceIdOfKey(fileKey)}`;
      id = pos;
    } else {
      // Without a position (events from an avro source) a random id still makes retries safe.
      id = randomBytes(12).toString('hex');
      subject = `${c.stream.subject}.${Math.floor(Math.random() * c.partitions)}.${this.#relayId}`;
    }
    const [epoch, seq] = durableId ? durableId.split(':') : [];
    return encodeBatch(batch, maxBytes, this.#cut).map((data, part) => ({
      subject,
      id: part === 0 ? id : `${id}#${part}`,
      data,
      headers: durableId ? { ...headers, [CHANNEL_ID]: `${durableId}:${part}` } : headers,
      durable: durableId ? ([epoch!, Number(seq), part] as const) : undefined,
    }));
  }

  /** Publishes the take's messages, each subject's in order; resolves with the first error, never rejects. */
  #publish(call: Call): Promise<DeliveryFailure | undefined> {
    if (this.#problem) return Promise.resolve({ reason: 'error', message: this.#problem });
    return this.#connected().then((bus) => {
      // Made once (a resend keeps the message ids and names), below the server's max_payload.
      const messages = (call.messages ??= call.batches.flatMap((b) => this.#messages(b, bus.maxPayload - HEADER_ROOM)));
      return Promise.all(messages.map((m) => {
        const st = this.#state(m.subject);
        // After a message failed, the later ones of the subject are not sent (a hole would
        // break the prefix); they fail too, and are resent in order after the failed one.
        const done = st.tail.then(() => {
          if (st.broken) throw new LogflowError('LF_PUBLISH_FAILED', `an earlier message on ${m.subject} was not stored`);
          return this.#publishOne(bus, m, st);
        });
        st.tail = done.then(() => {}, () => {
          st.broken = true;
        });
        return done;
      }));
    }).then(() => undefined, (err: Error): DeliveryFailure => ({ reason: 'error', message: err.message }));
  }

  #state(subject: string): SubjectState {
    let st = this.#subjects.get(subject);
    if (!st) {
      st = { lastSeq: undefined, frontier: undefined, lastId: undefined, tail: Promise.resolve(), broken: false };
      this.#subjects.set(subject, st);
    }
    return st;
  }

  async #publishOne(bus: Bus, m: Message, st: SubjectState): Promise<void> {
    if (st.lastSeq === undefined) await this.#lookUp(bus, m.subject, st);
    if (st.lastId === m.id || (m.durable && st.frontier && st.frontier[0] === m.durable[0] && compare(m.durable, st.frontier) <= 0)) return; // stored before
    try {
      st.lastSeq = await bus.publish(m.subject, m.data, { id: m.id, headers: m.headers, expectLastOnSubject: st.lastSeq });
    } catch (err) {
      if (!(err instanceof FencedError)) throw err;
      // The subject moved on without our knowing: our own publish, whose answer was lost?
      await this.#lookUp(bus, m.subject, st);
      if (st.lastId === m.id) return;
      throw new FencedError(`another process publishes on ${m.subject} (two edges with one sourceId?): ${err.message}`);
    }
    st.lastId = m.id;
    st.frontier = m.durable;
  }

  /** What the stream holds last on the subject: where this edge's published prefix ends. */
  async #lookUp(bus: Bus, subject: string, st: SubjectState): Promise<void> {
    const last = await bus.lastOnSubject(this.#config.stream.name, subject);
    st.lastSeq = last?.seq ?? 0;
    st.lastId = last?.header('Nats-Msg-Id');
    const cid = last?.header(CHANNEL_ID)?.split(':');
    st.frontier = cid && cid.length === 3 ? [cid[0]!, Number(cid[1]), Number(cid[2])] : undefined;
    if (last) edgeSubjectResumed.emit(this.log, { subject, seq: last.seq, channelId: last.header(CHANNEL_ID) ?? null });
  }

  #connected(): Promise<Bus> {
    if (this.#bus) return this.#bus;
    const c = this.#config;
    const connecting = JetStreamBus.connect(c.nats, `logflow-sink-${c.name}`, this.log).then(async (bus) => {
      try {
        await agreeOnSettings(await bus.records(c.settingsBucket, c.replicas), { partitions: { value: c.partitions, key: `${c.prefix}.partitions` } }, `${os.hostname()} ${c.prefix}`);
        await bus.ensureStream(c.stream, true);
      } catch (err) {
        await bus.close().catch(() => {});
        if (err instanceof ConfigError) {
          // Not retried: the configuration must change first.
          this.#problem = err.message;
          clusterSettingsMismatch.emit(this.log, { err: err.message, key: err.key });
        }
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

function compare(a: readonly [string, number, number], b: readonly [string, number, number]): number {
  return a[1] - b[1] || a[2] - b[2];
}

/** `type = jetstream` (components.ts). */
export function build(config: JetStreamSinkConfig, ctx: SinkContext) {
  return sinkComponent(new JetStreamSink(config, ctx.channel(config.channel), ctx.logger));
}
