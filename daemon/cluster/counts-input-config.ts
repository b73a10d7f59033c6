import type { PropertyReader } from '../conf/reader.js';
import { readName, readServers } from './jetstream-config.js';

/** `input = jetstream` of a `url-window-count` job (a query node): the counters' partials. */
export interface CountsInputConfig {
  readonly servers: readonly string[];
  readonly stream: string;
  readonly subject: string;
  readonly replicas: number;
}

export const JOB_INPUTS = ['avro', 'jetstream'] as const;

export function read(r: PropertyReader, p: string): CountsInputConfig {
  return Object.freeze({
    servers: readServers(r, p + '.servers'),
    stream: readName(r, p + '.stream', 'LOGFLOW_COUNTS'),
    subject: readName(r, p + '.subject', 'logflow.counts', true),
    replicas: r.int(p + '.replicas', 1, 1, 5),
  });
}
