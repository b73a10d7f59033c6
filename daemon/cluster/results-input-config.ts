import type { PropertyReader } from '../conf/reader.js';
import type { StreamSpec } from './bus.js';
import { readName, readNatsConnection, readStream, type NatsConnectionConfig } from './jetstream-config.js';

/** `input = jetstream` of a `url-window-count` job (a query node): the merge workers' results. */
export interface ResultsInputConfig {
  readonly prefix: string;
  readonly nats: NatsConnectionConfig;
  /** The merge workers' stream (checked, not created). */
  readonly stream: StreamSpec;
  /** Merge shards: the query node waits for each of them. */
  readonly shards: number;
  readonly replicas: number;
  readonly settingsBucket: string;
}

export const JOB_INPUTS = ['avro', 'jetstream'] as const;

export function read(r: PropertyReader, p: string, resolve: (path: string) => string): ResultsInputConfig {
  const name = readName(r, p + '.stream', 'LOGFLOW_RESULTS');
  const subject = readName(r, p + '.subject', 'logflow.results', true);
  return Object.freeze({
    prefix: p,
    nats: readNatsConnection(r, p, resolve),
    stream: readStream(name, p + '.stream', subject, p + '.subject'),
    shards: r.int(p + '.shards', 4, 1, 1024),
    replicas: r.int(p + '.replicas', 1, 1, 5),
    settingsBucket: readName(r, p + '.settingsBucket', 'LOGFLOW_CLUSTER'),
  });
}
