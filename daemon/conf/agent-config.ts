import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { COMPRESSION_TYPES, DEFAULT_COMPRESSION_LEVEL, type CompressionType } from '../channel/avro/deflate-wire.js';
import { ConfigError } from '../errors.js';
import { parseIpFilterRules, type IpFilterRule } from '../channel/avro/ip-filter.js';
import { compileUrlParser, NAMED_FORMATS } from '../job/log-format.js';
import { DECODE_ERROR_POLICIES, type DecodeErrorPolicy } from '../source/utf8.js';
import { read as readHttpConfig, type HttpConfig } from '../http/config.js';
import { resolveEnvVars } from './env-vars.js';
import { parseProperties } from './properties.js';
import { PropertyReader } from './reader.js';
import * as countsInput from '../job/partial/input-config.js';
import { JOB_INPUTS, type CountsInputConfig } from '../job/partial/input-config.js';
import * as partialCounter from '../job/partial/config.js';
import type { PartialCounterConfig } from '../job/partial/config.js';
import * as jetstreamSink from '../sink/jetstream/config.js';
import type { JetStreamSinkConfig } from '../sink/jetstream/config.js';

export const CONSUME_ORDERS = ['oldest', 'youngest', 'random'] as const;
export const DELETE_POLICIES = ['never', 'immediate'] as const;
export const FILE_IDENTITIES = ['content', 'name'] as const;

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
  /** Flume's `trackerDir`: where the source keeps its records of finished files (`files.db`). */
  readonly trackerDir: string;
  /** `content`: a file whose content was counted before is a duplicate; `name`: only names matter. */
  readonly fileIdentity: (typeof FILE_IDENTITIES)[number];
  /** How long the records of finished files (and their fingerprints) are kept. */
  readonly retentionMs: number;
}

/** Flume's avro source: receives AvroSourceProtocol calls and puts their events into a channel. */
export interface AvroSourceConfig {
  readonly name: string;
  readonly type: 'avro';
  readonly channel: string;
  readonly bind: string;
  readonly port: number;
  readonly compressionType: CompressionType;
  readonly interceptors: readonly InterceptorConfig[];
  /** `ssl = true`: the PKCS12 keystore's bytes and password. */
  readonly tls?: { readonly pfx: Buffer; readonly passphrase: string };
  /** Flume's `ipFilter` + `ipFilterRules` (undefined: anyone may connect). */
  readonly ipFilterRules: readonly IpFilterRule[] | undefined;
}

export interface MemoryChannelConfig {
  readonly name: string;
  readonly type: 'memory';
  readonly capacity: number;
  readonly transactionCapacity: number;
  /** Flume's `keep-alive`: how long an avro source's put waits for room before FAILED. */
  readonly keepAliveMs?: number;
}

/** Flume's file channel: puts are written (and fdatasync'ed) before they are acknowledged. */
export interface FileChannelConfig {
  readonly name: string;
  readonly type: 'file';
  readonly capacity: number;
  readonly transactionCapacity: number;
  readonly checkpointDir: string;
  readonly dataDir: string;
  /** A data file is closed and a new one started beyond this many bytes. */
  readonly maxFileSize: number;
  /** Flume's `keep-alive`: how long an avro source's put waits for room before FAILED. */
  readonly keepAliveMs?: number;
}

export type ChannelConfig = MemoryChannelConfig | FileChannelConfig;

export interface AvroSinkConfig {
  readonly name: string;
  readonly type: 'avro';
  readonly channel: string;
  readonly hostname: string;
  readonly port: number;
  readonly batchSize: number;
  readonly connectTimeout: number;
  readonly requestTimeout: number;
  /** Flume's `compression-type` (absent: none). */
  readonly compressionType?: CompressionType;
  /** zlib level (0-9) when `compressionType` is `deflate`. */
  readonly compressionLevel?: number;
  /** `ssl = true`: the CAs to trust (PEM; absent: the system's), or none checked. */
  readonly tls?: { readonly ca?: Buffer; readonly trustAll: boolean };
}

export interface UrlWindowJobConfig {
  readonly name: string;
  readonly type: 'url-window-count';
  /** `avro`: events from senders; `jetstream`: the partial counts of counters (a query node). */
  readonly input: (typeof JOB_INPUTS)[number];
  readonly jetstream?: CountsInputConfig;
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

export type { HttpConfig } from '../http/config.js';

export interface AgentConfig {
  readonly agent: string;
  readonly file: string;
  readonly sources: readonly SpoolDirSourceConfig[];
  /** Sources of type `avro`, listed in `<agent>.sources` like the others. */
  readonly avroSources: readonly AvroSourceConfig[];
  readonly channels: readonly ChannelConfig[];
  readonly sinks: readonly AvroSinkConfig[];
  readonly jetstreamSinks: readonly JetStreamSinkConfig[];
  readonly jobs: readonly UrlWindowJobConfig[];
  /** Jobs of type `url-count-partial` (counters of a JetStream cluster). */
  readonly counters: readonly PartialCounterConfig[];
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

export function parseAgentConfig(text: string, file: string, agent: string, cwd = process.cwd(), env: NodeJS.ProcessEnv = process.env): AgentConfig {
  const r = new PropertyReader(resolveEnvVars(parseProperties(text), file, agent + '.', env), file);
  const a = agent + '.';
  const resolve = (p: string) => path.resolve(cwd, p);

  // A typo is reported before whatever it caused (a required key missing, a default
  // that does not fit), so reading stops at the first error and the unknown keys are
  // looked at first.
  let read: ReturnType<typeof readComponents> | undefined;
  let firstError: ConfigError | undefined;
  try {
    read = readComponents(r, a, resolve);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    firstError = err;
  }
  // Flume keys this daemon does not implement are accepted with one warning, so an
  // existing Flume configuration runs; anything else is a typo and stops start-up.
  const flumeOnly = (key: string) => FLUME_KEYS_NOT_IMPLEMENTED.some((re) => re.test(key.slice(a.length)));
  const unknown = r.unknownKeys(a, flumeOnly, read !== undefined);
  if (unknown.length > 0) {
    const list = unknown.map((u) => `${file}:${u.prop.line}: ${u.prop.key}${u.suggestion ? ` (did you mean ${u.suggestion}?)` : ''}`).join('; ');
    throw new ConfigError('LF_CONFIG_UNKNOWN_KEY', `unknown configuration keys (a typo, or a component not listed): ${list}`, unknown[0]!.prop.key, unknown[0]!.prop.line);
  }
  if (!read) throw firstError!;
  const { channelNames, channels, sources, avroSources, sinks, jetstreamSinks, jobs, counters, http } = read;
  const notImplemented = r.unused(a).map((p) => `${p.key} (line ${p.line})`);
  if (sources.length + avroSources.length + sinks.length + jetstreamSinks.length + jobs.length + counters.length === 0) {
    throw new ConfigError('LF_CONFIG_MISSING_KEY', `${file}: agent ${JSON.stringify(agent)} has no sources, sinks or jobs (is --name right?)`, a + 'sources');
  }
  for (const s of [...sources, ...avroSources, ...sinks, ...jetstreamSinks]) {
    if (!channelNames.includes(s.channel)) throw r.missing(`${a}channels (${s.channel})`);
  }
  return Object.freeze({ agent, file, sources, avroSources, channels, sinks, jetstreamSinks, jobs, counters, http, notImplemented });
}

/** Every component of the agent, read in wiring order; the first bad key throws. */
function readComponents(r: PropertyReader, a: string, resolve: (p: string) => string) {
  const channelNames = r.list(a + 'channels');
  const channels = channelNames.map((name) => readChannel(r, a + 'channels.' + name, name, resolve));
  const knownChannel = (key: string, value: string) => {
    if (!channelNames.includes(value)) {
      throw r.at(r.raw(key)!, `channel ${JSON.stringify(value)} is not listed in ${a}channels`);
    }
    return value;
  };
  const sources: SpoolDirSourceConfig[] = [];
  const avroSources: AvroSourceConfig[] = [];
  for (const name of r.list(a + 'sources')) {
    const p = a + 'sources.' + name;
    if (r.oneOf(p + '.type', ['spooldir', 'avro'] as const) === 'avro') avroSources.push(readAvroSource(r, p, name, knownChannel, resolve));
    else sources.push(readSource(r, p, name, resolve, knownChannel));
  }
  const sinks: AvroSinkConfig[] = [];
  const jetstreamSinks: JetStreamSinkConfig[] = [];
  for (const name of r.list(a + 'sinks')) {
    const p = a + 'sinks.' + name;
    if (r.oneOf(p + '.type', ['avro', 'jetstream'] as const) === 'avro') sinks.push(readSink(r, p, name, knownChannel, resolve));
    else jetstreamSinks.push(jetstreamSink.read(r, p, name, knownChannel(p + '.channel', r.string(p + '.channel'))));
  }
  const jobs: UrlWindowJobConfig[] = [];
  const counters: PartialCounterConfig[] = [];
  for (const name of r.list(a + 'jobs')) {
    const p = a + 'jobs.' + name;
    if (r.oneOf(p + '.type', ['url-window-count', 'url-count-partial'] as const) === 'url-window-count') jobs.push(readJob(r, p, name, resolve));
    else counters.push(partialCounter.read(r, p, name, (key) => readLogFormat(r, key)));
  }
  const http = r.keysUnder(a + 'http').length > 0 ? readHttpConfig(r, a + 'http') : undefined;
  return { channelNames, channels, sources, avroSources, sinks, jetstreamSinks, jobs, counters, http };
}

/** Flume settings that have no effect here (yet): accepted, listed in a start-up warning. */
const FLUME_KEYS_NOT_IMPLEMENTED: readonly RegExp[] = [
  /^sources\.[^.]+\.(recursiveDirectorySearch|bufferMaxLines|bufferMaxLineLength|skipToEnd|trackingPolicy|maxBackoff|threads|deserializer\.outputCharset)$/,
  /^sources\.[^.]+\.selector\.(header|mapping\..+|optional\..+|default)$/,
  /^channels\.[^.]+\.(keepAlive|byteCapacity|byteCapacityBufferPercentage)$/,
  // the file channel's tuning and options: its own checkpoint is written after every sink commit
  /^channels\.[^.]+\.(useDualCheckpoints|backupCheckpointDir|checkpointInterval|checkpointOnClose|minimumRequiredSpace|use-log-replay-v1|use-fast-replay|fsyncPerTransaction|fsyncInterval)$/,
  /^sources\.[^.]+\.exclude-protocols$/,
  /^sinks\.[^.]+\.(exclude-protocols|maxIoWorkers|reset-connection-interval|threads)$/,
  /^sinkgroups(\..+)?$/,
];

function readChannel(r: PropertyReader, p: string, name: string, resolve: (p: string) => string): ChannelConfig {
  const type = r.oneOf(p + '.type', ['memory', 'file'] as const);
  if (type === 'file') return readFileChannel(r, p, name, resolve);
  const capacity = r.int(p + '.capacity', 100, 1, 100_000_000);
  const transactionCapacity = r.int(p + '.transactionCapacity', 100, 1, capacity);
  return Object.freeze({ name, type: 'memory', capacity, transactionCapacity, keepAliveMs: r.seconds(p + '.keep-alive', 3, 0) });
}

/** Flume's defaults; the directories default to Flume's too (under the home directory). */
function readFileChannel(r: PropertyReader, p: string, name: string, resolve: (p: string) => string): FileChannelConfig {
  // Encryption at rest must not be silently dropped: refuse it until it is implemented.
  const encryption = r.keysUnder(p + '.encryption')[0];
  if (encryption !== undefined) throw r.at(r.raw(`${p}.encryption.${encryption}`)!, 'file channel encryption is not supported');
  const capacity = r.int(p + '.capacity', 1_000_000, 1, 100_000_000);
  const transactionCapacity = r.int(p + '.transactionCapacity', 10_000, 1, capacity);
  const home = path.join(os.homedir(), '.flume', 'file-channel');
  const dataDirs = r.has(p + '.dataDirs') ? r.string(p + '.dataDirs').split(',').map((d) => d.trim()).filter(Boolean) : [path.join(home, 'data')];
  if (dataDirs.length !== 1) throw r.at(r.raw(p + '.dataDirs')!, 'one data directory is supported (Flume spreads over several; a RAID or one fast disk does it here)');
  const checkpointDir = resolve(r.string(p + '.checkpointDir', path.join(home, 'checkpoint')));
  const dataDir = resolve(dataDirs[0]!);
  if (checkpointDir === dataDir) throw r.at(r.raw(p + '.dataDirs')!, 'must differ from checkpointDir');
  return Object.freeze({
    name,
    type: 'file',
    capacity,
    transactionCapacity,
    checkpointDir,
    dataDir,
    maxFileSize: r.int(p + '.maxFileSize', 2_146_435_071, 64 * 1024, 2_146_435_071),
    keepAliveMs: r.seconds(p + '.keep-alive', 3, 0),
  });
}

function readCompressionType(r: PropertyReader, key: string): CompressionType {
  return r.oneOf(key, COMPRESSION_TYPES, 'none');
}

/**
 * Flume's `ssl`, `keystore`, `keystore-password`, `keystore-type`: only PKCS12 (Java's JKS
 * cannot be read here), loaded now so a wrong file or password stops start-up.
 */
function readKeystore(r: PropertyReader, p: string, resolve: (p: string) => string): { pfx: Buffer; passphrase: string } | undefined {
  const keys = ['keystore', 'keystore-password', 'keystore-type'].map((k) => `${p}.${k}`);
  if (!r.bool(p + '.ssl', false)) {
    for (const k of keys) r.markUsed(k);
    return undefined;
  }
  const convert = 'convert it: keytool -importkeystore -srckeystore KS.jks -destkeystore KS.p12 -deststoretype PKCS12';
  const type = r.raw(p + '.keystore-type');
  if (type && type.value.toUpperCase() !== 'PKCS12') throw r.at(type, `${type.value} is not supported, only PKCS12 (${convert})`);
  const file = resolve(r.string(p + '.keystore'));
  const passphrase = r.string(p + '.keystore-password');
  let pfx: Buffer;
  try {
    pfx = readFileSync(file);
  } catch (err) {
    throw r.at(r.raw(p + '.keystore')!, `cannot be read: ${(err as Error).message}`);
  }
  try {
    tls.createSecureContext({ pfx, passphrase });
  } catch (err) {
    throw r.at(r.raw(p + '.keystore')!, `is not a PKCS12 keystore this password opens (a JKS keystore is not supported: ${convert}): ${(err as Error).message}`);
  }
  return { pfx, passphrase };
}

/**
 * Flume's sink `ssl`, `trust-all-certs`, `truststore`: the truststore must be PEM
 * certificates (Java's JKS and PKCS12 truststores cannot be read here).
 */
function readTruststore(r: PropertyReader, p: string, resolve: (p: string) => string): { ca?: Buffer; trustAll: boolean } | undefined {
  const keys = ['trust-all-certs', 'truststore', 'truststore-password', 'truststore-type'].map((k) => `${p}.${k}`);
  if (!r.bool(p + '.ssl', false)) {
    for (const k of keys) r.markUsed(k);
    return undefined;
  }
  const trustAll = r.bool(p + '.trust-all-certs', false);
  r.markUsed(p + '.truststore-password');
  const convert = 'export its certificates as PEM: keytool -exportcert -rfc -alias ALIAS -keystore TS.jks > ca.pem';
  const type = r.raw(p + '.truststore-type');
  if (type && type.value.toUpperCase() !== 'PEM') throw r.at(type, `${type.value} is not supported, only PEM (${convert})`);
  const store = r.raw(p + '.truststore');
  if (!store) return { trustAll };
  let ca: Buffer;
  try {
    ca = readFileSync(resolve(store.value));
  } catch (err) {
    throw r.at(store, `cannot be read: ${(err as Error).message}`);
  }
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw r.at(store, `is not PEM certificates (JKS and PKCS12 truststores are not supported: ${convert})`);
  return { ca, trustAll };
}

/** A source's one channel (Flume allows several, with a selector; here one, replicating). */
function readSourceChannel(r: PropertyReader, p: string, knownChannel: (key: string, value: string) => string): string {
  const channels = r.list(p + '.channels');
  if (channels.length !== 1) {
    const prop = r.raw(p + '.channels');
    if (!prop) throw r.missing(p + '.channels');
    throw r.at(prop, 'exactly one channel is supported');
  }
  if (r.has(p + '.selector.type')) r.oneOf(p + '.selector.type', ['replicating'] as const);
  return knownChannel(p + '.channels', channels[0]!);
}

function readAvroSource(
  r: PropertyReader,
  p: string,
  name: string,
  knownChannel: (key: string, value: string) => string,
  resolve: (p: string) => string,
): AvroSourceConfig {
  const channel = readSourceChannel(r, p, knownChannel);
  const tlsConfig = readKeystore(r, p, resolve);
  return Object.freeze({
    ...(tlsConfig && { tls: tlsConfig }),
    name,
    type: 'avro',
    channel,
    bind: r.string(p + '.bind'),
    port: r.int(p + '.port', undefined, 0, 65535),
    compressionType: readCompressionType(r, p + '.compression-type'),
    interceptors: readInterceptors(r, p),
    ipFilterRules: readIpFilter(r, p),
  });
}

function readSource(
  r: PropertyReader,
  p: string,
  name: string,
  resolve: (p: string) => string,
  knownChannel: (key: string, value: string) => string,
): SpoolDirSourceConfig {
  const channel = readSourceChannel(r, p, knownChannel);
  if (r.has(p + '.deserializer')) r.oneOf(p + '.deserializer', ['LINE'] as const);
  const maxLineLength = r.has(p + '.deserializer.maxLineLength')
    ? r.int(p + '.deserializer.maxLineLength', 2048, 1, 64 * 1024 * 1024)
    : r.int(p + '.maxLineLength', 2048, 1, 64 * 1024 * 1024);
  const charset = r.oneOf(p + '.inputCharset', ['UTF-8', 'ISO-8859-1', 'US-ASCII'] as const, 'UTF-8');
  const spoolDir = resolve(r.string(p + '.spoolDir'));
  return Object.freeze({
    name,
    type: 'spooldir',
    channel,
    spoolDir,
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
    // Flume's default: a hidden directory in the spool (relative paths are the spool's).
    trackerDir: path.resolve(spoolDir, r.string(p + '.trackerDir', '.flumespool')),
    fileIdentity: r.oneOf(p + '.fileIdentity', FILE_IDENTITIES, 'content'),
    retentionMs: r.seconds(p + '.retention', 7 * 24 * 3600, 60_000),
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
  resolve: (p: string) => string,
): AvroSinkConfig {
  r.oneOf(p + '.type', ['avro'] as const);
  const tlsConfig = readTruststore(r, p, resolve);
  return Object.freeze({
    ...(tlsConfig && { tls: tlsConfig }),
    name,
    type: 'avro',
    channel: knownChannel(p + '.channel', r.string(p + '.channel')),
    hostname: r.string(p + '.hostname'),
    port: r.int(p + '.port', undefined, 1, 65535),
    batchSize: r.int(p + '.batch-size', 100, 1, 1_000_000),
    connectTimeout: r.int(p + '.connect-timeout', 20_000, 1, 3_600_000),
    requestTimeout: r.int(p + '.request-timeout', 20_000, 1, 3_600_000),
    compressionType: readCompressionType(r, p + '.compression-type'),
    compressionLevel: r.int(p + '.compression-level', DEFAULT_COMPRESSION_LEVEL, 0, 9),
  });
}

function readJob(r: PropertyReader, p: string, name: string, resolve: (p: string) => string): UrlWindowJobConfig {
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
  return Object.freeze({
    ...(tlsConfig && { tls: tlsConfig }),
    name,
    type: 'url-window-count',
    input,
    ...(input === 'jetstream' && { jetstream: countsInput.read(r, p) }),
    bind: r.string(p + '.bind', '127.0.0.1'),
    // A query node needs no Avro receiver: it listens on a free loopback port unless told.
    port: r.int(p + '.port', input === 'jetstream' ? 0 : undefined, 0, 65535),
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
    flushAfterIdleMs: r.seconds(p + '.flushAfterIdle', 10, 0),
    history: r.bool(p + '.history', true),
    retentionMs: r.seconds(p + '.retention', 7 * 24 * 3600, 60_000),
    maxConnections: r.int(p + '.maxConnections', 1000, 1, 100_000),
    idleTimeoutMs: r.seconds(p + '.idleTimeout', 60, 100),
    maxFrameBytes: r.int(p + '.maxFrameBytes', 64 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    compressionType: readCompressionType(r, p + '.compression-type'),
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
