import { AvroRpcClient, DEFAULT_COMPRESSION_LEVEL, type Channel, type EventBatch, type Status } from '../channel/index.js';
import type { AvroSinkConfig } from './avro-sink-config.js';
import type { Logger } from '../log.js';
import { commitDelivered, sleep, waitForDrain } from './delivery.js';

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 5_000;
/** Calls in flight on one connection. */
const PIPELINE_DEPTH = 16;

/**
 * Flume's avro sink: takes up to `batch-size` events from the channel, sends them as one
 * `appendBatch`, and commits them only when the receiver answered OK. Any failure keeps
 * the same events and retries them with exponential backoff, on a new connection.
 */
export class AvroSink {
  readonly name: string;
  readonly #config: AvroSinkConfig;
  readonly #channel: Channel;
  readonly #log: Logger;
  #client: Promise<AvroRpcClient> | undefined;
  #stopping = false;
  #loop: Promise<void> = Promise.resolve();
  #eventsSent = 0;
  #failures = 0;
  /** Deliveries retried so far (a receiver down, or answering FAILED), by reason. */
  readonly #retries = { error: 0, refused: 0 };

  constructor(config: AvroSinkConfig, channel: Channel, logger: Logger) {
    this.name = config.name;
    this.#config = config;
    this.#channel = channel;
    this.#log = logger.child({ sink: config.name });
  }

  get eventsSent(): number {
    return this.#eventsSent;
  }

  get retries(): Readonly<{ error: number; refused: number }> {
    return { ...this.#retries };
  }

  start(): void {
    this.#loop = this.#run();
  }

  /** Delivers what the channel holds (until `deadline`), then closes the connection. */
  async stop(deadlineMs = 5_000): Promise<void> {
    await waitForDrain(this.#channel, deadlineMs);
    this.#stopping = true;
    this.#channel.interrupt();
    await this.#loop;
  }

  /**
   * Keeps up to `PIPELINE_DEPTH` calls in flight on the connection (the receiver answers
   * them in order), so neither side waits for the other's round trip. Batches are
   * committed as their OKs arrive; after a failure the calls that were not answered OK
   * are resent, in order, on a new connection.
   */
  async #run(): Promise<void> {
    const pending: InFlight[] = [];
    let backoff = MIN_BACKOFF_MS;
    while (!this.#stopping) {
      while (pending.length < PIPELINE_DEPTH) {
        const batches = this.#channel.take(this.#config.batchSize);
        if (batches.length === 0) break;
        pending.push({ batches, reply: this.#send(batches) });
      }
      const head = pending[0];
      if (!head) {
        await this.#channel.waitForEvents();
        continue;
      }
      const reply = await head.reply;
      if (reply === 'OK') {
        pending.shift();
        this.#commit(head);
        if (this.#failures > 0) this.#log.info({ after: this.#failures }, 'avro sink delivering again');
        this.#failures = 0;
        backoff = MIN_BACKOFF_MS;
        continue;
      }
      // Calls behind the failed one may still have been accepted: keep those, resend only
      // the rest, so a receiver without deduplication sees no event twice.
      const replies = await Promise.all(pending.map((p) => p.reply));
      const failed = pending.filter((p, i) => {
        if (replies[i] !== 'OK') return true;
        this.#commit(p);
        return false;
      });
      pending.length = 0;
      pending.push(...failed);
      this.#failures++;
      this.#retries[reply instanceof Error ? 'error' : 'refused']++;
      this.#closeClient();
      const level = this.#failures === 1 || this.#failures % 50 === 0 ? 'warn' : 'debug';
      const err = reply instanceof Error ? reply.message : `receiver answered ${reply}`;
      this.#log[level]({ err, retryInMs: backoff, attempt: this.#failures }, 'avro sink delivery failed; retrying');
      await sleep(backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      if (this.#stopping) break;
      for (const p of pending) p.reply = this.#send(p.batches);
    }
    this.#closeClient();
  }

  #commit(call: InFlight): void {
    this.#eventsSent += commitDelivered(this.#channel, call.batches);
  }

  /** Sends one call; the promise never rejects (an error is its value). */
  #send(batches: EventBatch[]): Promise<Status | Error> {
    return this.#connected().then(
      (client) => client.appendBatch(batches),
    ).catch((err: Error) => err);
  }

  #connected(): Promise<AvroRpcClient> {
    if (this.#client) return this.#client;
    const c = this.#config;
    const connecting = AvroRpcClient.connect({
      host: c.hostname,
      port: c.port,
      connectTimeout: c.connectTimeout,
      requestTimeout: c.requestTimeout,
      ...(c.compressionType === 'deflate' && { deflateLevel: c.compressionLevel ?? DEFAULT_COMPRESSION_LEVEL }),
      ...(c.tls && { tls: c.tls }),
    });
    this.#client = connecting;
    connecting.then(
      (client) => client.onClose(() => {
        if (this.#client === connecting) this.#client = undefined;
      }),
      () => {
        if (this.#client === connecting) this.#client = undefined;
      },
    );
    return connecting;
  }

  #closeClient(): void {
    const client = this.#client;
    this.#client = undefined;
    void client?.then((c) => c.close(), () => {});
  }
}

interface InFlight {
  readonly batches: EventBatch[];
  reply: Promise<Status | Error>;
}
