import type { PropertyReader, ReadContext } from '../../conf/index.js';
import { readName, readServers } from '../../cluster/jetstream-config.js';

/** `type = jetstream`: publishes each source batch to `<subject>.<partition>` of `stream`. */
export interface JetStreamSinkConfig {
  readonly name: string;
  readonly type: 'jetstream';
  readonly channel: string;
  readonly servers: readonly string[];
  readonly stream: string;
  readonly subject: string;
  readonly partitions: number;
  /** Replicas of the stream when this sink creates it. */
  readonly replicas: number;
  readonly batchSize: number;
}

/** Reads `<agent>.sinks.<name>.*` of a jetstream sink. */
export function read(r: PropertyReader, p: string, { name, knownChannel }: ReadContext): JetStreamSinkConfig {
  return Object.freeze({
    name,
    type: 'jetstream',
    channel: knownChannel(p + '.channel', r.string(p + '.channel')),
    servers: readServers(r, p + '.servers'),
    stream: readName(r, p + '.stream', 'LOGFLOW_EVENTS'),
    subject: readName(r, p + '.subject', 'logflow.events', true),
    partitions: r.int(p + '.partitions', 8, 1, 4096),
    replicas: r.int(p + '.replicas', 1, 1, 5),
    batchSize: r.int(p + '.batch-size', 1000, 1, 1_000_000),
  });
}
