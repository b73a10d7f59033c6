import { AvroRpcClient, type EventBatch, type MemoryChannel } from '../channel/index.js';
import type { AvroSinkConfig } from '../conf/index.js';
import type { Logger } from '../log.js';

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 5_000;

/**
 * Flume's avro sink: takes up to `batch-size` events from the channel, sends them as one
 * `appendBatch`, and commits them only when the receiver answered OK. Any failure keeps
 * the same events and retries them with exponential backoff, on a new connection.
 */
export class AvroSink {
  readonly name: string;
  readonly #config: AvroSinkConfig;
  readonly #channel: MemoryChannel;
  readonly #log: Logger;
  #client: AvroRpcClient | undefined;
  #stopping = false;
  #loop: Promise<void> = Promise.resolve();
  #eventsSent = 0;
  #failures = 0;

  constructor(config: AvroSinkConfig, channel: MemoryChannel, logger: Logger) {
    this.name = config.name;
    this.#config = config;
    this.#channel = channel;
    this.#log = logger.child({ sink: config.name });
  }

  get eventsSent(): number {
    return this.#eventsSent;
  }

  start(): void {
    this.#loop = this.#run();
  }

  /** Delivers what the channel holds (until `deadline`), then closes the connection. */
  async stop(deadlineMs = 5_000): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    while (this.#channel.size > 0 && Date.now() < deadline) await sleep(20);
    this.#stopping = true;
    this.#channel.interrupt();
    await this.#loop;
    this.#client?.close();
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      await this.#channel.waitForEvents();
      const batches = this.#channel.take(this.#config.batchSize);
      if (batches.length === 0) continue;
      if (!(await this.#deliver(batches))) return;
      this.#channel.commit(batches);
      for (const b of batches) {
        this.#eventsSent += b.count;
        b.onDelivered?.();
      }
    }
  }

  /** Sends until the receiver says OK; false only if the sink is stopped first. */
  async #deliver(batches: EventBatch[]): Promise<boolean> {
    let backoff = MIN_BACKOFF_MS;
    while (!this.#stopping) {
      try {
        const client = await this.#connected();
        const status = await client.appendBatch(batches);
        if (status === 'OK') {
          if (this.#failures > 0) this.#log.info({ after: this.#failures }, 'avro sink delivering again');
          this.#failures = 0;
          return true;
        }
        throw new Error(`receiver answered ${status}`);
      } catch (err) {
        this.#failures++;
        this.#client?.close();
        this.#client = undefined;
        const level = this.#failures === 1 || this.#failures % 50 === 0 ? 'warn' : 'debug';
        this.#log[level]({ err: (err as Error).message, retryInMs: backoff, attempt: this.#failures }, 'avro sink delivery failed; retrying');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
    return false;
  }

  async #connected(): Promise<AvroRpcClient> {
    if (this.#client && !this.#client.closed) return this.#client;
    const c = this.#config;
    this.#client = await AvroRpcClient.connect({
      host: c.hostname,
      port: c.port,
      connectTimeout: c.connectTimeout,
      requestTimeout: c.requestTimeout,
    });
    return this.#client;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
