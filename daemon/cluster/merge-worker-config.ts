import type { PropertyReader, ReadContext } from '../conf/index.js';
import type { StreamSpec } from './bus.js';
import { readName, readNatsConnection, readStream, readStreamSpec, type NatsConnectionConfig } from './jetstream-config.js';

/**
 * `type = url-count-merge`: a merge worker. Owns some of the merge shards (leases, as
 * counters own partitions); for each, sums every partition's partials of the shard's URLs
 * into batches and a window, and publishes the batches' rows and the window's top.
 */
export interface MergeWorkerConfig {
  readonly name: string;
  readonly type: 'url-count-merge';
  readonly prefix: string;
  readonly nats: NatsConnectionConfig;
  /** The counters' stream (checked, not created). */
  readonly input: StreamSpec;
  /** Where results go, `<subject>.<shard>.d` (rows, windows) and `.s` (each shard's state). */
  readonly output: StreamSpec;
  readonly partitions: number;
  readonly shards: number;
  readonly replicas: number;
  readonly batchIntervalMs: number;
  readonly windowDurationMs: number;
  readonly slideDurationMs: number;
  /** Tops per shard and window: at least the query nodes' `topN`. */
  readonly topN: number;
  readonly time: 'processing' | 'event';
  /** Event time: how far behind the slowest partition's newest line batches stay open. */
  readonly watermarkMs: number;
  /** A partition without news (processing time) or events (event time) this long is left out of the watermark. */
  readonly idleTimeoutMs: number;
  readonly leaseBucket: string;
  readonly leaseTimeoutMs: number;
  readonly settingsBucket: string;
}

export function read(r: PropertyReader, p: string, { name, resolve }: ReadContext): MergeWorkerConfig {
  const batchIntervalMs = r.seconds(p + '.batchInterval', 1, 10);
  const windowDurationMs = r.seconds(p + '.windowDuration', 300, 10);
  const slideDurationMs = r.seconds(p + '.slideDuration', batchIntervalMs / 1000, 10);
  for (const [key, ms] of [['windowDuration', windowDurationMs], ['slideDuration', slideDurationMs]] as const) {
    if (ms % batchIntervalMs !== 0) throw r.at(r.raw(`${p}.${key}`)!, `must be a multiple of batchInterval (${batchIntervalMs / 1000} s)`);
  }
  const leaseTimeoutMs = r.seconds(p + '.leaseTimeout', 5, 1000);
  if (leaseTimeoutMs < 2 * batchIntervalMs) throw r.at(r.raw(p + '.leaseTimeout') ?? r.raw(p + '.batchInterval')!, 'leaseTimeout must be at least two batch intervals (leases are renewed once per interval)');
  const replicas = r.int(p + '.replicas', 1, 1, 5);
  const inputName = readName(r, p + '.input', 'LOGFLOW_COUNTS');
  const inputSubject = readName(r, p + '.inputSubject', 'logflow.counts', true);
  const outputName = readName(r, p + '.output', 'LOGFLOW_RESULTS');
  const outputSubject = readName(r, p + '.outputSubject', 'logflow.results', true);
  return Object.freeze({
    name,
    type: 'url-count-merge',
    prefix: p,
    nats: readNatsConnection(r, p, resolve),
    input: readStream(inputName, p + '.input', inputSubject, p + '.inputSubject'),
    // Rows are the history query nodes build theirs from: kept a week unless told.
    output: readStreamSpec(r, p, { name: outputName, nameKey: p + '.output', subject: outputSubject, subjectKey: p + '.outputSubject', replicas, replicasKey: p + '.replicas', prefix: 'results', defaults: { maxAgeMs: 7 * 24 * 3600_000 } }),
    partitions: r.int(p + '.partitions', 8, 1, 4096),
    shards: r.int(p + '.shards', 4, 1, 1024),
    replicas,
    batchIntervalMs,
    windowDurationMs,
    slideDurationMs,
    topN: r.int(p + '.topN', 1000, 1, 100_000),
    time: r.oneOf(p + '.time', ['processing', 'event'] as const, 'processing'),
    watermarkMs: r.seconds(p + '.watermark', 60, 0),
    idleTimeoutMs: r.seconds(p + '.idleTimeout', 10, 100),
    leaseBucket: readName(r, p + '.leaseBucket', 'LOGFLOW_LEASES'),
    leaseTimeoutMs,
    settingsBucket: readName(r, p + '.settingsBucket', 'LOGFLOW_CLUSTER'),
  });
}
