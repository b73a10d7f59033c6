import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { DeliverPolicy, jetstream, JetStreamApiCodes, JetStreamApiError, jetstreamManager, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from '../log.js';
import { FencedError, type Bus, type BusMessage, type BusReader, type Leases, type PublishOptions, type StreamSpec } from './bus.js';
import { JetStreamLeases } from './jetstream-leases.js';
import { busReaderRetrying, streamCreated } from '../telemetry/index.js';

/** How long a publish waits for the stream's acknowledgement before it is retried. */
const PUBLISH_TIMEOUT_MS = 5_000;

/**
 * The Bus on NATS JetStream. The connection never gives up: it waits for a first server
 * (an edge may start while the cluster is down) and reconnects for ever, so callers only
 * see failed calls, which they retry.
 */
export class JetStreamBus implements Bus {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #log: Logger;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, log: Logger) {
    this.#nc = nc;
    this.#js = jetstream(nc, { timeout: PUBLISH_TIMEOUT_MS });
    this.#jsm = jsm;
    this.#log = log;
  }

  static async connect(servers: readonly string[], name: string, log: Logger): Promise<JetStreamBus> {
    const nc = await connect({
      servers: [...servers],
      name,
      waitOnFirstConnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 5_000,
    });
    const jsm = await jetstreamManager(nc, { timeout: PUBLISH_TIMEOUT_MS, checkAPI: false });
    return new JetStreamBus(nc, jsm, log);
  }

  async ensureStream(spec: StreamSpec): Promise<void> {
    try {
      await this.#jsm.streams.info(spec.name);
      return;
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    }
    try {
      await this.#jsm.streams.add({ name: spec.name, subjects: [spec.subject + '.>'], num_replicas: spec.replicas });
      streamCreated.emit(this.#log, { stream: spec.name, subjects: spec.subject + '.>', replicas: spec.replicas });
    } catch (err) {
      // Another process created it at the same moment: fine if it exists now.
      await this.#jsm.streams.info(spec.name).catch(() => {
        throw err;
      });
    }
  }

  async publish(subject: string, data: Uint8Array, options: PublishOptions): Promise<number> {
    const h = headers();
    if (options.headers) for (const [k, v] of Object.entries(options.headers)) h.set(k, v);
    try {
      const ack = await this.#js.publish(subject, data, {
        msgID: options.id,
        headers: h,
        ...(options.expectLastOnSubject !== undefined && { expect: { lastSubjectSequence: options.expectLastOnSubject } }),
      });
      return ack.seq;
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence) throw new FencedError(err.message);
      throw err;
    }
  }

  async lastOnSubject(stream: string, subject: string): Promise<BusMessage | undefined> {
    try {
      const m = await this.#jsm.streams.getMessage(stream, { last_by_subj: subject });
      if (!m) return undefined;
      return { seq: m.seq, data: m.data, header: (name) => m.header.get(name) || undefined };
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return undefined;
      throw err;
    }
  }

  read(stream: string, subject: string, fromSeq: number, onMessage: (m: BusMessage) => void): BusReader {
    let stopped = false;
    let close: (() => Promise<unknown>) | undefined;
    let next = fromSeq;
    // An ordered consumer recreates itself after a server's failure, from the sequence
    // after the last it delivered; a failure to create it at all is retried here.
    const run = async () => {
      while (!stopped) {
        try {
          const consumer = await this.#js.consumers.get(stream, {
            filter_subjects: subject,
            deliver_policy: DeliverPolicy.StartSequence,
            opt_start_seq: next,
          });
          const messages = await consumer.consume({
            // Pull requests of 2 s (heartbeats every second): a restarted server is
            // noticed in seconds, not after the 30 s default.
            expires: 2_000,
            callback: (m: JsMsg) => {
              if (stopped) return;
              next = m.seq + 1;
              onMessage({ seq: m.seq, data: m.data, header: (name) => m.headers?.get(name) || undefined });
            },
          });
          close = () => messages.close();
          if (stopped) await messages.close();
          await messages.closed();
        } catch (err) {
          if (!stopped) busReaderRetrying.emit(this.#log, { err, stream, subject });
        }
        if (!stopped) await sleep(500);
      }
    };
    const done = run();
    return {
      stop: async () => {
        stopped = true;
        await close?.().catch(() => {});
        await done;
      },
    };
  }

  async leases(bucket: string, ttlMs: number, replicas: number): Promise<Leases> {
    return JetStreamLeases.open(this.#nc, bucket, ttlMs, replicas);
  }

  async close(): Promise<void> {
    await this.#nc.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
