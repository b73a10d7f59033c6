import { type Channel, type EventBatch } from '../channel/index.js';
import { AvroRpcClient, DEFAULT_COMPRESSION_LEVEL } from '../avro/index.js';
import type { AvroSinkConfig } from './avro-sink-config.js';
import type { Logger } from '../log.js';
import { avroSinkDeliveringAgain, avroSinkDeliveryFailed } from '../telemetry/index.js';
import { PipelinedSink, sinkComponent, type DeliveryFailure, type DeliverySettings, type SinkContext } from './delivery.js';

/**
 * Up to 16 calls in flight on the connection (the receiver answers them in order), so
 * neither side waits for the other's round trip; after a failure the calls not answered
 * OK are resent, in order, on a new connection.
 */
const DELIVERY: DeliverySettings = {
  depth: 16,
  maxBackoffMs: 5_000,
  events: { recovered: avroSinkDeliveringAgain, failed: avroSinkDeliveryFailed },
};

/**
 * Flume's avro sink: takes up to `batch-size` events from the channel, sends them as one
 * `appendBatch`, and commits them only when the receiver answered OK. Any failure keeps
 * the same events and retries them with exponential backoff, on a new connection.
 */
export class AvroSink extends PipelinedSink<EventBatch[]> {
  readonly #config: AvroSinkConfig;
  #client: Promise<AvroRpcClient> | undefined;

  constructor(config: AvroSinkConfig, channel: Channel, logger: Logger) {
    super(config, channel, logger, DELIVERY);
    this.#config = config;
  }

  protected prepare(batches: EventBatch[]): EventBatch[] {
    return batches;
  }

  protected override afterFailure(): void {
    this.#closeClient();
  }

  protected async closeConnection(): Promise<void> {
    this.#closeClient();
  }

  /** Sends one call; the promise never rejects (a failure is its value). */
  protected send(batches: EventBatch[]): Promise<DeliveryFailure | undefined> {
    return this.#connected().then(
      (client) => client.appendBatch(batches),
    ).then(
      (status): DeliveryFailure | undefined => (status === 'OK' ? undefined : { reason: 'refused', message: `receiver answered ${status}` }),
      (err: Error): DeliveryFailure => ({ reason: 'error', message: err.message }),
    );
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

/** `type = avro` (components.ts): it declares where it delivers, so a job listening there is known to be fed by it. */
export function build(config: AvroSinkConfig, ctx: SinkContext) {
  return {
    ...sinkComponent(new AvroSink(config, ctx.channel(config.channel), ctx.logger)),
    deliversTo: { host: config.hostname, port: config.port },
  };
}
