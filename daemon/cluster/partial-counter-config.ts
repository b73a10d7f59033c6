import type { PropertyReader, ReadContext } from '../conf/index.js';
import { readLogFormat } from '../logformat/log-format-config.js';
import { readName, readServers } from './jetstream-config.js';

/** `type = url-count-partial`: a stateless counter between the events and the counts streams. */
export interface PartialCounterConfig {
  readonly name: string;
  readonly type: 'url-count-partial';
  readonly servers: readonly string[];
  readonly input: string;
  readonly inputSubject: string;
  readonly output: string;
  readonly outputSubject: string;
  /** Must match the edges' `partitions`. */
  readonly partitions: number;
  readonly replicas: number;
  readonly batchIntervalMs: number;
  readonly time: 'processing' | 'event';
  readonly logFormat: string;
  readonly stripQueryString: boolean;
  readonly leaseBucket: string;
  /** A counter that has not renewed its leases for this long loses its partitions. */
  readonly leaseTimeoutMs: number;
}

/** Reads `<agent>.jobs.<name>.*` of a url-count-partial job (a counter). */
export function read(r: PropertyReader, p: string, { name }: ReadContext): PartialCounterConfig {
  const batchIntervalMs = r.seconds(p + '.batchInterval', 1, 10);
  const leaseTimeoutMs = r.seconds(p + '.leaseTimeout', 5, 1000);
  if (leaseTimeoutMs < 2 * batchIntervalMs) throw r.at(r.raw(p + '.leaseTimeout') ?? r.raw(p + '.batchInterval')!, 'leaseTimeout must be at least two batch intervals (leases are renewed once per interval)');
  return Object.freeze({
    name,
    type: 'url-count-partial',
    servers: readServers(r, p + '.servers'),
    input: readName(r, p + '.input', 'LOGFLOW_EVENTS'),
    inputSubject: readName(r, p + '.inputSubject', 'logflow.events', true),
    output: readName(r, p + '.output', 'LOGFLOW_COUNTS'),
    outputSubject: readName(r, p + '.outputSubject', 'logflow.counts', true),
    partitions: r.int(p + '.partitions', 8, 1, 4096),
    replicas: r.int(p + '.replicas', 1, 1, 5),
    batchIntervalMs,
    time: r.oneOf(p + '.time', ['processing', 'event'] as const, 'processing'),
    logFormat: readLogFormat(r, p + '.logFormat'),
    stripQueryString: r.bool(p + '.stripQueryString', false),
    leaseBucket: readName(r, p + '.leaseBucket', 'LOGFLOW_LEASES'),
    leaseTimeoutMs,
  });
}
