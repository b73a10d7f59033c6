import type { PropertyReader, ReadContext } from '../../conf/index.js';
import type { StreamSpec } from '../../cluster/bus.js';
import { readName, readNatsConnection, readStreamSpec, type NatsConnectionConfig } from '../../cluster/jetstream-config.js';

/**
 * `type = jetstream`: publishes each source batch to `<subject>.<partition>.<sourceId>` of
 * the events stream, creating it (with the limits below) when it is missing.
 */
export interface JetStreamSinkConfig {
  readonly name: string;
  readonly type: 'jetstream';
  readonly prefix: string;
  readonly channel: string;
  readonly nats: NatsConnectionConfig;
  readonly stream: StreamSpec;
  readonly partitions: number;
  /**
   * A file is spread over partitions in extents of this many bytes (each extent to its
   * own partition), so one big file does not pin one counter; a smaller file stays whole.
   */
  readonly partitionExtent: number;
  readonly batchSize: number;
  readonly settingsBucket: string;
  readonly replicas: number;
}

/** Reads `<agent>.sinks.<name>.*` of a jetstream sink. */
export function read(r: PropertyReader, p: string, { name, knownChannel, resolve }: ReadContext): JetStreamSinkConfig {
  const replicas = r.int(p + '.replicas', 1, 1, 5);
  const streamName = readName(r, p + '.stream', 'LOGFLOW_EVENTS');
  const subject = readName(r, p + '.subject', 'logflow.events', true);
  return Object.freeze({
    name,
    type: 'jetstream',
    prefix: p,
    channel: knownChannel(p + '.channel', r.string(p + '.channel')),
    nats: readNatsConnection(r, p, resolve),
    stream: readStreamSpec(r, p, { name: streamName, nameKey: p + '.stream', subject, subjectKey: p + '.subject', replicas, replicasKey: p + '.replicas' }),
    partitions: r.int(p + '.partitions', 8, 1, 4096),
    partitionExtent: r.int(p + '.partitionExtent', 4 * 1024 * 1024, 64 * 1024, Number.MAX_SAFE_INTEGER),
    batchSize: r.int(p + '.batch-size', 1000, 1, 1_000_000),
    settingsBucket: readName(r, p + '.settingsBucket', 'LOGFLOW_CLUSTER'),
    replicas,
  });
}
