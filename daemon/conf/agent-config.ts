import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import { parseIpFilterRules, type IpFilterRule } from '../channel/avro/ip-filter.js';
import { compileUrlParser, NAMED_FORMATS } from '../job/log-format.js';
import { DECODE_ERROR_POLICIES, type DecodeErrorPolicy } from '../source/utf8.js';
import { parseProperties } from './properties.js';
import { PropertyReader } from './reader.js';

export const CONSUME_ORDERS = ['oldest', 'youngest', 'random'] as const;
export const DELETE_POLICIES = ['never', 'immediate'] as const;

/** Flume's interceptors that set one header to the same value for a whole batch. */
export interface InterceptorConfig {
  readonly type: 'timestamp' | 'host' | 'static';
  readonly headerName: string;
  readonly preserveExisting: boolean;
  /** `static`: the value; `host`: the host name or address, resolved at start-up. */
  readonly value: string | undefined;
}

/** @deprecated the timestamp interceptor is one of `InterceptorConfig`'s types. */
export type TimestampInterceptorConfig = InterceptorConfig;

export interface SpoolDirSourceConfig {
  readonly name: string;
  readonly type: 'spooldir';
  readonly channel: string;
  readonly spoolDir: string;
  readonly fileSuffix: string;
  /** Appended to a file that could not be read (quarantine). */
  readonly failedSuffix: string;
  readonly deletePolicy: (typeof DELETE_POLICIES)[number];
  readonly fileHeader: boolean;
  readonly fileHeaderKey: string;
  readonly basenameHeader: boolean;
  readonly basenameHeaderKey: string;
  readonly includePattern: RegExp;
  readonly ignorePattern: RegExp;
  readonly batchSize: number;
  readonly consumeOrder: (typeof CONSUME_ORDERS)[number];
  /** Milliseconds between two looks at a new file's size before it is trusted as complete. */
  readonly pollDelay: number;
  readonly inputCharset: 'utf-8' | 'latin1';
  readonly maxLineLength: number;
  /** What a line that is not valid UTF-8 does: FAIL ends the file there, REPLACE puts U+FFFD, IGNORE drops the bytes. */
  readonly decodeErrorPolicy: DecodeErrorPolicy;
  readonly interceptors: readonly InterceptorConfig[];
}

export interface MemoryChannelConfig {
  readonly name: string;
  readonly type: 'memory';
  readonly capacity: number;
  readonly transactionCapacity: number;
}

export interface AvroSinkConfig {
  readonly name: string;
  readonly type: 'avro';
  readonly channel: string;
  readonly hostname: string;
  readonly port: number;
  readonly batchSize: number;
  readonly connectTimeout: number;
  readonly requestTimeout: number;
}

export interface UrlWindowJobConfig {
  readonly name: string;
  readonly type: 'url-window-count';
  readonly bind: string;
  readonly port: number;
  readonly batchIntervalMs: number;
  readonly windowDurationMs: number;
  readonly slideDurationMs: number;
  readonly checkpointDir: string;
  readonly database: string;
  /** How many URLs of each window are persisted (the most `/api/top?n=` can ask for). */
  readonly topN: number;
  /** `auto`, `combined`, `common`, `vhost_combined`, or an Apache/nginx format string. */
  readonly logFormat: string;
  readonly stripQueryString: boolean;
  /** `processing`: batches by the time events arrive; `event`: by the lines' own times. */
  readonly time: 'processing' | 'event';
  /** Event time: how late an event may be before its batch closes without it. */
  readonly watermarkMs: number;
  /** Keep per-batch counts (and minute/hour rollups) for range queries. */
  readonly history: boolean;
  /** How long the history is kept. */
  readonly retentionMs: number;
  /** Avro connections open at once, and how long one may stay silent. */
  readonly maxConnections: number;
  readonly idleTimeoutMs: number;
  /** The largest Avro request accepted. */
  readonly maxFrameBytes: number;
  /** Flume's `ipFilter` + `ipFilterRules`: who may connect to the Avro receiver (undefined: anyone). */
  readonly ipFilterRules: readonly IpFilterRule[] | undefined;
}

export interface HttpConfig {
  readonly bind: string;
  readonly port: number;
  /** When set, `/api/*` and `/metrics` want `Authorization: Bearer <token>`. */
  readonly authToken: string | undefined;
}

export interface AgentConfig {
  readonly agent: string;
  readonly file: string;
  readonly sources: readonly SpoolDirSourceConfig[];
  readonly channels: readonly MemoryChannelConfig[];
  readonly sinks: readonly AvroSinkConfig[];
  readonly jobs: readonly UrlWindowJobConfig[];
  readonly http: HttpConfig | undefined;
  /** Flume keys of the file that have no effect here, with their lines (for one warning). */
  readonly notImplemented: readonly string[];
}

/** Reads and validates one agent's configuration; any problem throws a ConfigError naming the key. */
export function loadAgentConfig(file: string, agent: string, cwd = process.cwd()): AgentConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('LF_CONFIG_SYNTAX', `cannot read configuration ${file}: ${(err as Error).message}`);
  }
  return parseAgentConfig(text, file, agent, cwd);
}

export function parseAgentConfig(text: string, file: string, agent: string, cwd = process.cwd()): AgentConfig {
  const r = new PropertyReader(parseProperties(text), file);
  const a = agent + '.';
  const resolve = (p: string) => path.resolve(cwd, p);

  const channelNames = r.list(a + 'channels');
  const channels = channelNames.map((name) => readChannel(r, a + 'channels.' + name, name));
  const knownChannel = (key: string, value: string) => {
    if (!channelNames.includes(value)) {
      throw r.at(r.raw(key)!, `channel ${JSON.stringify(value)} is not listed in ${a}channels`);
    }
    return value;
  };
  const sources = r.list(a + 'sources').map((name) => readSource(r, a + 'sources.' + name, name, resolve, knownChannel));
  const sinks = r.list(a + 'sinks').map((name) => readSink(r, a + 'sinks.' + name, name, knownChannel));
  const jobs = r.list(a + 'jobs').map((name) => readJob(r, a + 'jobs.' + name, name, resolve));
  const http = r.keysUnder(a + 'http').length > 0 ? readHttp(r, a + 'http') : undefined;

  // Flume keys this daemon does not implement are accepted with one warning, so an
  // existing Flume configuration runs; anything else is a typo and stops start-up.
  const leftover = r.unused(a);
  const unknown = leftover.filter((p) => !FLUME_KEYS_NOT_IMPLEMENTED.some((re) => re.test(p.key.slice(a.length))));
  const notImplemented = leftover.filter((p) => !unknown.includes(p)).map((p) => `${p.key} (line ${p.line})`);
  if (unknown.length > 0) {
    const list = unknown.map((p) => `${file}:${p.line}: ${p.key}`).join('; ');
    throw new ConfigError('LF_CONFIG_UNKNOWN_KEY', `unknown configuration keys (a typo, or a component not listed): ${list}`, unknown[0]!.key, unknown[0]!.line);
  }
  if (sources.length + sinks.length + jobs.length === 0) {
    throw new ConfigError('LF_CONFIG_MISSING_KEY', `${file}: agent ${JSON.stringify(agent)} has no sources, sinks or jobs (is --name right?)`, a + 'sources');
  }
  for (const s of [...sources, ...sinks]) {
    if (!channelNames.includes(s.channel)) throw r.missing(`${a}channels (${s.channel})`);
  }
  return Object.freeze({ agent, file, sources, channels, sinks, jobs, http, notImplemented });
}

/** Flume settings that have no effect here (yet): accepted, listed in a start-up warning. */
const FLUME_KEYS_NOT_IMPLEMENTED: readonly RegExp[] = [
  /^sources\.[^.]+\.(trackerDir|recursiveDirectorySearch|bufferMaxLines|bufferMaxLineLength|skipToEnd|trackingPolicy|maxBackoff|threads|deserializer\.outputCharset)$/,
  /^sources\.[^.]+\.selector\.(header|mapping\..+|optional\..+|default)$/,
  /^channels\.[^.]+\.(keepAlive|byteCapacity|byteCapacityBufferPercentage)$/,
  /^sinks\.[^.]+\.(compression-type|compression-level|ssl|trust-all-certs|truststore|truststore-password|truststore-type|exclude-protocols|maxIoWorkers|reset-connection-interval|threads)$/,
  /^sinkgroups(\..+)?$/,
];

function readChannel(r: PropertyReader, p: string, name: string): MemoryChannelConfig {
  r.oneOf(p + '.type', ['memory'] as const);
  const capacity = r.int(p + '.capacity', 100, 1, 100_000_000);
  const transactionCapacity = r.int(p + '.transactionCapacity', 100, 1, capacity);
  return Object.freeze({ name, type: 'memory', capacity, transactionCapacity });
}

function readSource(
  r: PropertyReader,
  p: string,
  name: string,
  resolve: (p: string) => string,
  knownChannel: (key: string, value: string) => string,
): SpoolDirSourceConfig {
  r.oneOf(p + '.type', ['spooldir'] as const);
  const channels = r.list(p + '.channels');
  if (channels.length !== 1) {
    const prop = r.raw(p + '.channels');
    if (!prop) throw r.missing(p + '.channels');
    throw r.at(prop, 'exactly one channel is supported');
  }
  if (r.has(p + '.selector.type')) r.oneOf(p + '.selector.type', ['replicating'] as const);
  if (r.has(p + '.deserializer')) r.oneOf(p + '.deserializer', ['LINE'] as const);
  const maxLineLength = r.has(p + '.deserializer.maxLineLength')
    ? r.int(p + '.deserializer.maxLineLength', 2048, 1, 64 * 1024 * 1024)
    : r.int(p + '.maxLineLength', 2048, 1, 64 * 1024 * 1024);
  const charset = r.oneOf(p + '.inputCharset', ['UTF-8', 'ISO-8859-1', 'US-ASCII'] as const, 'UTF-8');
  return Object.freeze({
    name,
    type: 'spooldir',
    channel: knownChannel(p + '.channels', channels[0]!),
    spoolDir: resolve(r.string(p + '.spoolDir')),
    fileSuffix: r.string(p + '.fileSuffix', '.COMPLETED'),
    failedSuffix: r.string(p + '.failedSuffix', '.FAILED'),
    deletePolicy: r.oneOf(p + '.deletePolicy', DELETE_POLICIES, 'never'),
    fileHeader: r.bool(p + '.fileHeader', false),
    fileHeaderKey: r.string(p + '.fileHeaderKey', 'file'),
    basenameHeader: r.bool(p + '.basenameHeader', false),
    basenameHeaderKey: r.string(p + '.basenameHeaderKey', 'basename'),
    includePattern: r.regex(p + '.includePattern', '^.*$'),
    ignorePattern: r.regex(p + '.ignorePattern', '^$'),
    batchSize: r.int(p + '.batchSize', 100, 1, 1_000_000),
    consumeOrder: r.oneOf(p + '.consumeOrder', CONSUME_ORDERS, 'oldest'),
    pollDelay: r.int(p + '.pollDelay', 500, 10, 3_600_000),
    inputCharset: charset === 'UTF-8' ? 'utf-8' : 'latin1',
    maxLineLength,
    decodeErrorPolicy: r.oneOf(p + '.decodeErrorPolicy', DECODE_ERROR_POLICIES, 'FAIL'),
    interceptors: readInterceptors(r, p),
  });
}

function readInterceptors(r: PropertyReader, p: string): InterceptorConfig[] {
  return r.list(p + '.interceptors').map((name) => {
    const ip = `${p}.interceptors.${name}`;
    const type = r.oneOf(ip + '.type', ['timestamp', 'host', 'static'] as const);
    // Flume's defaults: timestamp and host replace the header, static keeps an existing one.
    const preserveExisting = r.bool(ip + '.preserveExisting', type === 'static');
    if (type === 'timestamp') {
      return Object.freeze({ type, headerName: r.string(ip + '.headerName', 'timestamp'), preserveExisting, value: undefined });
    }
    if (type === 'host') {
      const useIP = r.bool(ip + '.useIP', true);
      const host = useIP ? (firstAddress() ?? os.hostname()) : os.hostname();
      return Object.freeze({ type, headerName: r.string(ip + '.hostHeader', 'host'), preserveExisting, value: host });
    }
    return Object.freeze({ type, headerName: r.string(ip + '.key', 'key'), preserveExisting, value: r.string(ip + '.value', 'value') });
  });
}

/** The first non-internal IPv4 address, as Flume's host interceptor uses by default. */
function firstAddress(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

function readSink(
  r: PropertyReader,
  p: string,
  name: string,
  knownChannel: (key: string, value: string) => string,
): AvroSinkConfig {
  r.oneOf(p + '.type', ['avro'] as const);
  return Object.freeze({
    name,
    type: 'avro',
    channel: knownChannel(p + '.channel', r.string(p + '.channel')),
    hostname: r.string(p + '.hostname'),
    port: r.int(p + '.port', undefined, 1, 65535),
    batchSize: r.int(p + '.batch-size', 100, 1, 1_000_000),
    connectTimeout: r.int(p + '.connect-timeout', 20_000, 1, 3_600_000),
    requestTimeout: r.int(p + '.request-timeout', 20_000, 1, 3_600_000),
  });
}

function readJob(r: PropertyReader, p: string, name: string, resolve: (p: string) => string): UrlWindowJobConfig {
  r.oneOf(p + '.type', ['url-window-count'] as const);
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
  return Object.freeze({
    name,
    type: 'url-window-count',
    bind: r.string(p + '.bind', '127.0.0.1'),
    port: r.int(p + '.port', undefined, 0, 65535),
    batchIntervalMs,
    windowDurationMs,
    slideDurationMs,
    checkpointDir: resolve(r.string(p + '.checkpointDir', 'checkpoint')),
    database: resolve(r.string(p + '.database', 'data/results.db')),
    topN: r.int(p + '.topN', 1000, 1, 100_000),
    logFormat: readLogFormat(r, p + '.logFormat'),
    stripQueryString: r.bool(p + '.stripQueryString', false),
    time: r.oneOf(p + '.time', ['processing', 'event'] as const, 'processing'),
    watermarkMs: r.seconds(p + '.watermark', 60, 0),
    history: r.bool(p + '.history', true),
    retentionMs: r.seconds(p + '.retention', 7 * 24 * 3600, 60_000),
    maxConnections: r.int(p + '.maxConnections', 1000, 1, 100_000),
    idleTimeoutMs: r.seconds(p + '.idleTimeout', 60, 100),
    maxFrameBytes: r.int(p + '.maxFrameBytes', 64 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    ipFilterRules: readIpFilter(r, p),
  });
}

/** As Flume's avro source: `ipFilterRules` apply when `ipFilter = true`, and must then be set. */
function readIpFilter(r: PropertyReader, p: string): IpFilterRule[] | undefined {
  const on = r.bool(p + '.ipFilter', false);
  const prop = r.raw(p + '.ipFilterRules');
  if (!on) return undefined;
  if (!prop) throw r.missing(p + '.ipFilterRules');
  try {
    return parseIpFilterRules(prop.value);
  } catch (err) {
    throw r.at(prop, (err as Error).message);
  }
}

function readLogFormat(r: PropertyReader, key: string): string {
  const prop = r.raw(key);
  if (!prop) return 'auto';
  const named = NAMED_FORMATS.find((n) => n === prop.value.toLowerCase());
  if (named) return named;
  try {
    compileUrlParser(prop.value, false);
  } catch (err) {
    throw r.at(prop, `is neither ${NAMED_FORMATS.join(', ')} nor a usable format string: ${(err as Error).message}`);
  }
  return prop.value;
}

function readHttp(r: PropertyReader, p: string): HttpConfig {
  const token = r.raw(p + '.authToken');
  if (token && token.value.length < 16) throw r.at(token, 'must be at least 16 characters');
  return Object.freeze({
    bind: r.string(p + '.bind', '127.0.0.1'),
    port: r.int(p + '.port', 8080, 0, 65535),
    authToken: token?.value,
  });
}
