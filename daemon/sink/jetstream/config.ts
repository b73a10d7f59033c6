import type { Channel } from '../../channel/index.js';
import type { Logger } from '../../log.js';
import type { PropertyReader, ReadContext } from '../../conf/index.js';
import { JetStreamSink } from './jetstream-sink.js';

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

/** `nats://host:port` list, comma separated (the form NATS tools take). */
export function readServers(r: PropertyReader, key: string): string[] {
  const servers = r.string(key).split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of servers) {
    if (!/^(nats|tls):\/\/[^\s/]+:\d+$/.test(s) && !/^[^\s/:]+:\d+$/.test(s)) throw r.bad(r.raw(key)!, 'a comma-separated list of nats://host:port');
  }
  if (servers.length === 0) throw r.bad(r.raw(key)!, 'at least one nats://host:port');
  return servers;
}

/** A stream or subject name: NATS tokens (no spaces, no wildcards). */
export function readName(r: PropertyReader, key: string, fallback: string, subject = false): string {
  const value = r.string(key, fallback);
  const ok = subject ? /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/ : /^[A-Za-z0-9_-]+$/;
  if (!ok.test(value)) throw r.bad(r.raw(key)!, subject ? 'a NATS subject of letters, digits, _ and - tokens joined by dots' : 'a stream name of letters, digits, _ and -');
  return value;
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

export function build(config: JetStreamSinkConfig, channel: Channel, logger: Logger): JetStreamSink {
  return new JetStreamSink(config, channel, logger);
}
