import { type Channel, type EventBatch } from '../channel/index.js';
import { AvroReader, AvroRpcServer, type DecodedEvents, type Status } from '../avro/index.js';
import type { AvroSourceConfig } from './avro-source-config.js';
import type { InterceptorConfig } from './source-config.js';
import type { Logger } from '../log.js';
import { avroCallRefused, avroSourceListening } from '../telemetry/index.js';
import { intercept } from './interceptors.js';
import type { SourceContext } from './source-context.js';
import { listening } from '../startup-errors.js';
import type { StatsPart } from '../telemetry/stats.js';

/**
 * Flume's avro source: the AvroSourceProtocol receiver (the same RPC server as the job's)
 * in front of a channel, so this daemon can be a collector tier (avro source -> channel ->
 * avro sink to the next hop). A call is answered OK only once the channel accepted all of
 * its events (Flume's semantics: at-most-once on a crash with a memory channel, durable
 * with a file channel); a call the channel refuses is answered FAILED and resent.
 */
export class AvroSource {
  readonly name: string;
  readonly #config: AvroSourceConfig;
  readonly #channel: Channel;
  readonly #log: Logger;
  readonly #server: AvroRpcServer;
  #eventsReceived = 0;
  readonly #refusedCalls = avroCallRefused();

  constructor(config: AvroSourceConfig, channel: Channel, logger: Logger) {
    this.name = config.name;
    this.#config = config;
    this.#channel = channel;
    this.#log = logger.child({ source: config.name });
    this.#server = new AvroRpcServer(
      { bind: config.bind, port: config.port, compressionType: config.compressionType, ipFilterRules: config.ipFilterRules, maxConnections: config.maxConnections, ...(config.tls && { tls: config.tls }), logger: this.#log },
      (events) => this.#receive(events),
    );
  }

  get eventsReceived(): number {
    return this.#eventsReceived;
  }

  /** Connections closed at once: refused by `ipFilterRules`, or past the connection limit. */
  get refusedConnections(): { ipFilter: number; maxConnections: number } {
    return this.#server.refusedConnections;
  }

  /** The port actually bound (the configured one may be 0). */
  get port(): number {
    return this.#server.port;
  }

  async start(): Promise<void> {
    await this.#server.listen();
    avroSourceListening.emit(this.#log, { bind: this.#config.bind, port: this.port, compression: this.#config.compressionType });
  }

  /** Closes the port and every connection; calls not answered yet are resent by their senders. */
  async stop(): Promise<void> {
    await this.#server.close();
  }

  async #receive(events: DecodedEvents): Promise<Status> {
    if (events.count === 0) return 'OK';
    if (events.count > this.#channel.transactionCapacity) {
      this.#refused('transactionCapacity', `a call of ${events.count} events exceeds the channel's transactionCapacity (${this.#channel.transactionCapacity}); lower the sender's batch-size`);
      return 'FAILED';
    }
    // Copied and split synchronously: the server reuses `events` for the next call.
    const batches = batchesOfCall(events, this.#config.interceptors);
    try {
      // Flume's keep-alive: a channel that stays full is answered FAILED (the sender backs
      // off and resends), rather than letting the sender's request-timeout expire.
      await this.#channel.putAll(batches, AbortSignal.timeout(this.#channel.keepAliveMs));
    } catch (err) {
      this.#refused('channel', `the channel refused the events: ${(err as Error).message}`);
      return 'FAILED';
    }
    this.#eventsReceived += events.count;
    return 'OK';
  }

  /** Its figures in the agent's stats. */
  stats(): StatsPart {
    return { eventsReceived: this.#eventsReceived, refusedConnections: this.refusedConnections, refusedCalls: this.refusedCalls };
  }

  /** Calls answered FAILED so far, by reason (the sender resends them). */
  get refusedCalls(): Readonly<Record<'transactionCapacity' | 'channel', number>> {
    return this.#refusedCalls.counts();
  }

  #refused(why: 'transactionCapacity' | 'channel', reason: string): void {
    this.#refusedCalls.emit(this.#log, why, { reason });
  }
}

/** `type = avro` (components.ts): a port that cannot be listened on is its `port` (or `bind`) setting's error. */
export function build(config: AvroSourceConfig, ctx: SourceContext) {
  const source = new AvroSource(config, ctx.channel(config.channel), ctx.logger);
  return {
    name: config.name,
    start: () => listening(ctx.file, ctx.key, () => source.start()),
    stop: () => source.stop(),
    stats: () => source.stats(),
  };
}

/**
 * The call's events as batches of consecutive events with the same headers: one batch for
 * a logflow edge's call (whose first event also carries its position header, kept as
 * `firstHeaders`), one per event when every event has its own headers. Bodies stay ranges
 * of one copy of the call's bytes.
 */
export function batchesOfCall(events: DecodedEvents, interceptors: readonly InterceptorConfig[] = []): EventBatch[] {
  const data = Buffer.from(events.data.subarray(events.encodedStart, events.encodedEnd));
  const n = events.count;
  const hs = new Int32Array(n);
  const he = new Int32Array(n);
  const starts = new Int32Array(n);
  const ends = new Int32Array(n);
  const r = new AvroReader(data);
  const readEvent = (i: number) => {
    hs[i] = r.pos;
    for (let m = r.blockCount(); m !== 0; m = r.blockCount()) {
      for (let j = 0; j < m; j++) { r.skipBytes(); r.skipBytes(); }
    }
    he[i] = r.pos;
    starts[i] = r.skipBytes();
    ends[i] = r.pos;
  };
  if (events.single) readEvent(0);
  else {
    let i = 0;
    for (let m = r.blockCount(); m !== 0; m = r.blockCount()) for (let j = 0; j < m; j++) readEvent(i++);
  }
  const same = (a: number, b: number) => data.compare(data, hs[a], he[a], hs[b], he[b]) === 0;
  const mapOf = (i: number) => readStringMap(data, hs[i]!);
  const now = Date.now();
  const batches: EventBatch[] = [];
  const push = (from: number, to: number, headers: Record<string, string>, firstHeaders?: Record<string, string>) => {
    batches.push({
      data,
      starts: starts.subarray(from, to),
      ends: ends.subarray(from, to),
      count: to - from,
      headers: intercept(interceptors, headers, now),
      ...(firstHeaders && { firstHeaders }),
    });
  };
  let i = 0;
  while (i < n) {
    let k = i + 1;
    if (k < n && !same(i, k)) {
      const first = mapOf(i);
      const rest = mapOf(k);
      const extra = extraHeaders(first, rest);
      if (!extra) {
        push(i, k, first);
        i = k;
        continue;
      }
      while (k + 1 < n && same(k + 1, i + 1)) k++;
      push(i, k + 1, rest, extra);
      i = k + 1;
      continue;
    }
    while (k < n && same(k, i)) k++;
    push(i, k, mapOf(i));
    i = k;
  }
  return batches;
}

/** The headers `first` has beyond `rest`, when it has all of `rest`'s (else undefined). */
function extraHeaders(first: Record<string, string>, rest: Record<string, string>): Record<string, string> | undefined {
  for (const k of Object.keys(rest)) if (first[k] !== rest[k]) return undefined;
  const extra: Record<string, string> = {};
  for (const k of Object.keys(first)) if (!(k in rest)) extra[k] = first[k]!;
  return extra;
}

function readStringMap(data: Buffer, pos: number): Record<string, string> {
  const r = new AvroReader(data, pos);
  const map: Record<string, string> = {};
  for (let m = r.blockCount(); m !== 0; m = r.blockCount()) {
    for (let j = 0; j < m; j++) {
      const k = r.string();
      map[k] = r.string();
    }
  }
  return map;
}
