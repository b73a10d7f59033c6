import type { PropertyReader, ReadContext } from '../conf/index.js';
import { readLogFormatSetting } from '../logformat/log-format-config.js';
import { readDimensions } from '../job/dimensions-config.js';
import type { CountedDimension } from './partial-counts.js';
import type { StreamSpec } from './bus.js';
import { readName, readNatsConnection, readStream, readStreamSpec, type NatsConnectionConfig } from './jetstream-config.js';

/** `type = url-count-partial`: a counter between the events and the counts streams (no state of its own). */
export interface PartialCounterConfig {
  readonly name: string;
  readonly type: 'url-count-partial';
  /** This counter's key prefix (`counter.jobs.j1`), named in errors and in the cluster's settings. */
  readonly prefix: string;
  readonly nats: NatsConnectionConfig;
  /** The edges' stream (checked, not created: the edges create it with their limits). */
  readonly input: StreamSpec;
  /** Where partials go, `<subject>.<shard>` (created with the `counts*` limits if missing). */
  readonly output: StreamSpec;
  /** Must match the edges' `partitions`; checked through the cluster's settings. */
  readonly partitions: number;
  /** Merge shards: a URL's partials go to shard hash(URL) mod shards. */
  readonly shards: number;
  readonly replicas: number;
  readonly batchIntervalMs: number;
  readonly time: 'processing' | 'event';
  readonly logFormat: string;
  /** A JSON format's `fields.NAME = path`. */
  readonly fields: Readonly<Record<string, string>>;
  /** What lines are counted by (default `url status`, as a single process's job), each a field of the format. */
  readonly dimensions: readonly CountedDimension[];
  readonly stripQueryString: boolean;
  readonly leaseBucket: string;
  /** A counter that has not renewed its leases for this long loses its partitions. */
  readonly leaseTimeoutMs: number;
  /** Each partition's progress (partition-progress.ts). */
  readonly progressBucket: string;
  /** The settings every process of the cluster shares (cluster-settings.ts). */
  readonly settingsBucket: string;
}

/** Reads `<agent>.jobs.<name>.*` of a url-count-partial job (a counter). */
export function read(r: PropertyReader, p: string, { name, resolve }: ReadContext): PartialCounterConfig {
  const batchIntervalMs = r.seconds(p + '.batchInterval', 1, 10);
  const leaseTimeoutMs = r.seconds(p + '.leaseTimeout', 5, 1000);
  if (leaseTimeoutMs < 2 * batchIntervalMs) throw r.at(r.raw(p + '.leaseTimeout') ?? r.raw(p + '.batchInterval')!, 'leaseTimeout must be at least two batch intervals (leases are renewed once per interval)');
  const replicas = r.int(p + '.replicas', 1, 1, 5);
  const inputName = readName(r, p + '.input', 'LOGFLOW_EVENTS');
  const inputSubject = readName(r, p + '.inputSubject', 'logflow.events', true);
  const outputName = readName(r, p + '.output', 'LOGFLOW_COUNTS');
  const outputSubject = readName(r, p + '.outputSubject', 'logflow.counts', true);
  const format = readLogFormatSetting(r, p);
  // (maxKeys is the query node's: the counters and merge workers keep every key.)
  const dimensions = readDimensions(r, p, format).map((d) => Object.freeze({ name: d.name, field: d.field, visitors: d.visitors }));
  return Object.freeze({
    name,
    type: 'url-count-partial',
    prefix: p,
    nats: readNatsConnection(r, p, resolve),
    input: readStream(inputName, p + '.input', inputSubject, p + '.inputSubject'),
    output: readStreamSpec(r, p, { name: outputName, nameKey: p + '.output', subject: outputSubject, subjectKey: p + '.outputSubject', replicas, replicasKey: p + '.replicas', prefix: 'counts' }),
    partitions: r.int(p + '.partitions', 8, 1, 4096),
    shards: r.int(p + '.shards', 4, 1, 1024),
    replicas,
    batchIntervalMs,
    time: r.oneOf(p + '.time', ['processing', 'event'] as const, 'processing'),
    logFormat: format.logFormat,
    fields: format.fields,
    dimensions: Object.freeze(dimensions),
    stripQueryString: r.bool(p + '.stripQueryString', false),
    leaseBucket: readName(r, p + '.leaseBucket', 'LOGFLOW_LEASES'),
    leaseTimeoutMs,
    progressBucket: readName(r, p + '.progressBucket', 'LOGFLOW_PROGRESS'),
    settingsBucket: readName(r, p + '.settingsBucket', 'LOGFLOW_CLUSTER'),
  });
}
