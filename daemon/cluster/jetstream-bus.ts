import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import {
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StoredMsg,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { Logger } from '../log.js';
import { FencedError, StreamMissing, type Bus, type BusMessage, type BusReader, type Leases, type PublishOptions, type Records, type StreamSpec, type StreamState } from './bus.js';
import { connectOptions } from './jetstream-connect.js';
import type { NatsConnectionConfig } from './jetstream-config.js';
import { JetStreamLeases, JetStreamRecords } from './jetstream-leases.js';
import { checkStream } from './stream-check.js';
import { busReaderRetrying, streamCreated, streamUnreplicated } from '../telemetry/index.js';

/** How long a publish waits for the stream's acknowledgement before it is retried. */
const PUBLISH_TIMEOUT_MS = 5_000;

/**
 * The Bus on NATS JetStream. Once connected the connection never gives up (it reconnects
 * for ever), so callers only see failed calls, which they retry; a first connection that
 * fails is told, with its reason, and tried again by the caller.
 */
export class JetStreamBus implements Bus {
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #log: Logger;
  readonly #toldUnreplicated = new Set<string>();

  private constructor(nc: NatsConnection, jsm: JetStreamManager, log: Logger) {
    this.#nc = nc;
    this.#js = jetstream(nc, { timeout: PUBLISH_TIMEOUT_MS });
    this.#jsm = jsm;
    this.#log = log;
  }

  /**
   * Fails (with the server's or the TLS layer's reason: a wrong password, an unknown CA)
   * when no server can be reached now; callers log it and try again. Once connected, the
   * connection reconnects for ever.
   */
  static async connect(config: NatsConnectionConfig, name: string, log: Logger): Promise<JetStreamBus> {
    const nc = await connect({
      ...connectOptions(config),
      name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 5_000,
    });
    const jsm = await jetstreamManager(nc, { timeout: PUBLISH_TIMEOUT_MS, checkAPI: false });
    return new JetStreamBus(nc, jsm, log);
  }

  get maxPayload(): number {
    return this.#nc.info?.max_payload ?? 1024 * 1024;
  }

  async ensureStream(spec: StreamSpec, create: boolean): Promise<void> {
    let existing: StreamConfig | undefined;
    try {
      existing = (await this.#jsm.streams.info(spec.name)).config;
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
    }
    if (existing) {
      checkStream(spec, existing);
      return this.#checkReplicated(spec.name, existing.num_replicas, spec.keys.replicas ?? 'replicas');
    }
    if (!create) throw new StreamMissing(`stream ${spec.name} does not exist yet`);
    const l = spec.limits;
    try {
      await this.#jsm.streams.add({
        name: spec.name,
        subjects: [spec.subject + '.>'],
        num_replicas: spec.replicas,
        max_age: l.maxAgeMs * 1_000_000,
        max_bytes: l.maxBytes,
        max_msgs: l.maxMsgs,
        duplicate_window: l.duplicateWindowMs * 1_000_000,
        discard: l.discard === 'new' ? DiscardPolicy.New : DiscardPolicy.Old,
      });
      streamCreated.emit(this.#log, { stream: spec.name, subjects: spec.subject + '.>', replicas: spec.replicas });
    } catch (err) {
      // Another process created it at the same moment: fine if it exists now, and matches.
      const info = await this.#jsm.streams.info(spec.name).catch(() => {
        throw err;
      });
      checkStream(spec, info.config);
    }
    this.#checkReplicated(spec.name, spec.replicas, spec.keys.replicas ?? 'replicas');
  }

  /**
   * One replica on a clustered NATS is one server's disk: said at start, once per stream
   * (not refused: a cluster may keep a scratch stream so on purpose). A single server (no
   * cluster) says nothing: its one replica is all there is.
   */
  #checkReplicated(stream: string, replicas: number, key: string): void {
    const cluster = this.#nc.info?.cluster;
    if (!cluster || replicas !== 1 || this.#toldUnreplicated.has(stream)) return;
    this.#toldUnreplicated.add(stream);
    streamUnreplicated.emit(this.#log, { stream, cluster, key });
  }

  async streamState(stream: string): Promise<StreamState> {
    const askedAtMs = Date.now();
    const { state, config } = await this.#jsm.streams.info(stream);
    const lastTs = state.last_ts ? Date.parse(state.last_ts) : 0;
    return {
      askedAtMs,
      firstSeq: state.first_seq,
      lastSeq: state.last_seq,
      lastTs: Number.isNaN(lastTs) || lastTs < 0 ? 0 : lastTs,
      messages: state.messages,
      bytes: state.bytes,
      maxMsgs: config.max_msgs ?? -1,
      maxBytes: config.max_bytes ?? -1,
    };
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

  lastOnSubject(stream: string, subject: string): Promise<BusMessage | undefined> {
    return this.#get(stream, { last_by_subj: subject });
  }

  nextOnSubject(stream: string, subject: string, fromSeq: number): Promise<BusMessage | undefined> {
    return this.#get(stream, { next_by_subj: subject, seq: fromSeq });
  }

  async #get(stream: string, query: object): Promise<BusMessage | undefined> {
    try {
      // (next_by_subj is the server's since 2.9; the client's type lists only seq and last_by_subj)
      const m = await this.#jsm.streams.getMessage(stream, query as { seq: number });
      if (!m) return undefined;
      return storedMessage(m);
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
              const info = m.info;
              onMessage({
                seq: m.seq,
                subject: m.subject,
                data: m.data,
                timeMs: m.time.getTime(),
                pending: info.pending,
                header: (name) => m.headers?.get(name) || undefined,
              });
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

  async readRange(stream: string, subject: string, fromSeq: number, toSeq: number, onMessage: (m: BusMessage) => void): Promise<void> {
    const first = await this.nextOnSubject(stream, subject, fromSeq);
    if (!first || first.seq > toSeq) return;
    let done = false;
    let reader: BusReader | undefined;
    await new Promise<void>((resolve) => {
      reader = this.read(stream, subject, first.seq, (m) => {
        if (done) return;
        if (m.seq <= toSeq) onMessage(m);
        // Past the range, or nothing more of the subject: the range is read (it is in the past).
        if (m.seq >= toSeq || m.pending === 0) {
          done = true;
          resolve();
        }
      });
    });
    await reader!.stop();
  }

  async subjects(stream: string, filter: string): Promise<Map<string, number>> {
    const info = await this.#jsm.streams.info(stream, { subjects_filter: filter });
    return new Map(Object.entries(info.state.subjects ?? {}));
  }

  async purge(stream: string, subject: string, belowSeq: number): Promise<number> {
    const r = await this.#jsm.streams.purge(stream, { filter: subject, seq: belowSeq });
    return r.purged;
  }

  leases(bucket: string, ttlMs: number, replicas: number, ttlKey: string): Promise<Leases> {
    this.#checkReplicated(`bucket ${bucket}`, replicas, 'replicas');
    return JetStreamLeases.open(this.#nc, bucket, ttlMs, replicas, ttlKey);
  }

  records(bucket: string, replicas: number): Promise<Records> {
    this.#checkReplicated(`bucket ${bucket}`, replicas, 'replicas');
    return JetStreamRecords.open(this.#nc, bucket, replicas);
  }

  async close(): Promise<void> {
    await this.#nc.close();
  }
}

function storedMessage(m: StoredMsg): BusMessage {
  return { seq: m.seq, subject: m.subject, data: m.data, timeMs: m.time.getTime(), header: (name) => m.header?.get(name) || undefined };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
