import type { PropertyReader, ReadContext } from '../conf/index.js';
import { readCompressionType, readIpFilter, readKeystore } from '../avro/transport-config.js';
import type { CompressionType, IpFilterRule } from '../avro/index.js';
import { compileLineFormat, type LineFormat } from '../logformat/log-format.js';
import { readLogFormatSetting } from '../logformat/log-format-config.js';
import type { DimensionSpec } from '../counts/dimension-window.js';
import { readDimensions } from './dimensions-config.js';
import * as resultsInput from '../cluster/results-input-config.js';
import { JOB_INPUTS, type ResultsInputConfig } from '../cluster/results-input-config.js';
import { readDatabase, type PostgresConfig } from '../store/database-config.js';
import type { JobResults } from '../store/job-results.js';

export interface UrlWindowJobConfig {
  readonly name: string;
  readonly type: 'url-window-count';
  /** `avro`: events from senders; `jetstream`: the merge workers' results (a query node). */
  readonly input: (typeof JOB_INPUTS)[number];
  readonly jetstream?: ResultsInputConfig;
  readonly bind: string;
  readonly port: number;
  readonly batchIntervalMs: number;
  readonly windowDurationMs: number;
  readonly slideDurationMs: number;
  readonly checkpointDir: string;
  /** The SQLite file, or (with `postgres`) the PostgreSQL URL without its password: what logs and errors show. */
  readonly database: string;
  /** `database = postgres://...`: the results go to this PostgreSQL server. */
  readonly postgres?: PostgresConfig;
  /** The name this job's results are stored under (several writers can share a PostgreSQL database); default: the agent's name. */
  readonly instance: string;
  /**
   * How many keys of the default dimension each slide persists with their measures (what
   * `/api/top?n=` reads from the database; more are asked of the job). Visitors of a key are
   * a union over its statuses: for 1,000 keys that was ~20% of the job thread of an ingest.
   */
  readonly topN: number;
  /** `auto`, `combined`, `common`, `vhost_combined`, `json`, `caddy`, `traefik`, or an Apache/nginx format string. */
  readonly logFormat: string;
  /** A JSON format's `fields.NAME = path`. */
  readonly fields: Readonly<Record<string, string>>;
  readonly stripQueryString: boolean;
  /** What the job counts by (`dimensions`, default `url status`), each a field of the format. */
  readonly dimensions: readonly DimensionSpec[];
  /** `processing`: batches by the time events arrive; `event`: by the lines' own times. */
  readonly time: 'processing' | 'event';
  /** Event time: how late an event may be before its batch closes without it. */
  readonly watermarkMs: number;
  /** Event time: with no new event for this long, every open batch closes (0: never). */
  readonly flushAfterIdleMs: number;
  /** Keep per-batch counts (and minute/hour rollups) for range queries. */
  readonly history: boolean;
  /** How long the history is kept. */
  readonly retentionMs: number;
  /** Avro connections open at once, and how long one may stay silent. */
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
  /** The largest Avro request accepted. */
  readonly maxFrameBytes: number;
  /** Flume's `compression-type` of the receiver: `deflate` wants senders to compress too. */
  readonly compressionType: CompressionType;
  /** `ssl = true` (as on Flume's avro source): the PKCS12 keystore's bytes and password. */
  readonly tls?: { readonly pfx: Buffer; readonly passphrase: string };
  /** Flume's `ipFilter` + `ipFilterRules`: who may connect to the Avro receiver (undefined: anyone). */
  readonly ipFilterRules: readonly IpFilterRule[] | undefined;
}

export type { JobResults, JobTiming } from '../store/job-results.js';

export function resultsOf(config: UrlWindowJobConfig): JobResults {
  const { batchIntervalMs, windowDurationMs, slideDurationMs, time, history, logFormat, fields, topN, instance } = config;
  const dimensions = Object.freeze(config.dimensions.map((d) => d.name));
  const timing = Object.freeze({ batchIntervalMs, windowDurationMs, slideDurationMs, time, history, logFormat, fields, dimensions, topN, instance });
  return Object.freeze({ database: config.database, ...(config.postgres && { postgres: config.postgres }), timing });
}

/**
 * The job's log format (also a counter's: it counts the same lines): its parser reads a
 * line's fields, the URL's query string cut off under `stripQueryString`. It is compiled once in every thread that needs it, not
 * once for all: a config is plain data, posted as it is to the job's worker thread, but
 * compiled code (the parser is a closure) cannot cross threads. The main thread compiles it
 * for the sources' check of a file in another format, the job thread for counting;
 * compiling is memoised per thread (log-format.ts), so the config check's compile, in
 * read(), is the main thread's only one.
 */
export function lineFormatOf(config: Pick<UrlWindowJobConfig, 'logFormat' | 'stripQueryString'> & { readonly fields?: Readonly<Record<string, string>> }): LineFormat {
  return compileLineFormat(config.logFormat, { stripQueryString: config.stripQueryString, fields: config.fields });
}

/** `instance`: a name for the job's rows in a shared database; the agent's name by default. */
function readInstance(r: PropertyReader, p: string): string {
  const name = r.string(p + '.instance', p.slice(0, p.indexOf('.')));
  if (!/^[A-Za-z0-9_.-]{1,63}$/.test(name)) {
    throw r.bad(r.raw(p + '.instance') ?? { key: p + '.instance', value: name, line: 0 }, '1 to 63 letters, digits, `_`, `.` or `-` (the agent name is the default)');
  }
  return name;
}

/** Reads `<agent>.jobs.<name>.*` of a url-window-count job. */
export function read(r: PropertyReader, p: string, { name, resolve }: ReadContext): UrlWindowJobConfig {
  const input = r.oneOf(p + '.input', JOB_INPUTS, 'avro');
  const tlsConfig = readKeystore(r, p, resolve);
  const batchIntervalMs = r.seconds(p + '.batchInterval', 1, 10);
  const windowDurationMs = r.seconds(p + '.windowDuration', 300, 10);
  const slideDurationMs = r.seconds(p + '.slideDuration', batchIntervalMs / 1000, 10);
  for (const [key, ms] of [['windowDuration', windowDurationMs], ['slideDuration', slideDurationMs]] as const) {
    if (ms % batchIntervalMs !== 0) {
      throw r.at(r.raw(`${p}.${key}`)!, `must be a multiple of batchInterval (${batchIntervalMs / 1000} s), as in Spark`);
    }
  }
  if (windowDurationMs / batchIntervalMs > 1_000_000) {
    throw r.at(r.raw(p + '.windowDuration')!, 'is more than a million batch intervals');
  }
  // A query node's batches are closed by the merge workers: these are theirs to set.
  for (const key of ['watermark', 'flushAfterIdle']) {
    const prop = input === 'jetstream' ? r.raw(`${p}.${key}`) : undefined;
    if (prop) throw r.at(prop, `has no effect with input = jetstream: batches are closed by the merge workers (set ${key === 'watermark' ? 'watermark' : 'idleTimeout'} on the url-count-merge jobs)`);
  }
  const format = readLogFormatSetting(r, p);
  return Object.freeze({
    ...(tlsConfig && { tls: tlsConfig }),
    name,
    type: 'url-window-count',
    input,
    ...(input === 'jetstream' && { jetstream: resultsInput.read(r, p, resolve) }),
    bind: r.string(p + '.bind', '127.0.0.1'),
    // A query node needs no Avro receiver: it listens on a free loopback port unless told.
    port: r.int(p + '.port', input === 'jetstream' ? 0 : undefined, 0, 65535),
    batchIntervalMs,
    windowDurationMs,
    slideDurationMs,
    checkpointDir: resolve(r.string(p + '.checkpointDir', 'checkpoint')),
    ...readDatabase(r, p + '.database', 'data/results.db', resolve),
    instance: readInstance(r, p),
    topN: r.int(p + '.topN', 100, 1, 100_000),
    logFormat: format.logFormat,
    fields: format.fields,
    stripQueryString: r.bool(p + '.stripQueryString', false),
    dimensions: Object.freeze(readDimensions(r, p, format)),
    time: r.oneOf(p + '.time', ['processing', 'event'] as const, 'processing'),
    watermarkMs: r.seconds(p + '.watermark', 60, 0),
    flushAfterIdleMs: r.seconds(p + '.flushAfterIdle', 10, 0),
    history: r.bool(p + '.history', true),
    retentionMs: readRetention(r, p + '.retention'),
    maxConnections: r.int(p + '.maxConnections', 1000, 1, 100_000),
    idleTimeoutMs: r.seconds(p + '.idleTimeout', 60, 100),
    maxFrameBytes: r.int(p + '.maxFrameBytes', 64 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    compressionType: readCompressionType(r, p + '.compression-type'),
    ipFilterRules: readIpFilter(r, p),
  });
}

/** `retention`: 0 keeps the history for ever; otherwise at least a minute (the rollups' finest bucket). */
function readRetention(r: PropertyReader, key: string): number {
  const ms = r.seconds(key, 7 * 24 * 3600, 0);
  if (ms > 0 && ms < 60_000) throw r.at(r.raw(key)!, 'must be 0 (keep everything) or at least 60 seconds');
  return ms;
}
