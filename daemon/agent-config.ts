import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CHANNEL_TYPES, JOB_TYPES, readComponent, SINK_TYPES, SOURCE_TYPES } from './components.js';
import type { AvroSinkConfig, AvroSourceConfig, ChannelConfig, SpoolDirSourceConfig, UrlWindowJobConfig } from './components.js';
import { parseProperties, PropertyReader, type ReadContext } from './conf/index.js';
import { ConfigError } from './errors.js';
import { read as readHttp, type HttpConfig } from './http/http-config.js';

export type * from './components.js';
export type { HttpConfig } from './http/http-config.js';
export type { InterceptorConfig } from './source/source-config.js';

/**
 * The agent's configuration: which components it runs and how they are wired. Each
 * component's own keys are read by its config module (see components.ts).
 */
export interface AgentConfig {
  readonly agent: string;
  readonly file: string;
  readonly sources: readonly SpoolDirSourceConfig[];
  /** Sources of type `avro`, listed in `<agent>.sources` like the others. */
  readonly avroSources: readonly AvroSourceConfig[];
  readonly channels: readonly ChannelConfig[];
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
  const knownChannel = (key: string, value: string) => {
    if (!channelNames.includes(value)) {
      throw r.at(r.raw(key)!, `channel ${JSON.stringify(value)} is not listed in ${a}channels`);
    }
    return value;
  };
  const context = (name: string): ReadContext => ({ name, resolve, knownChannel });
  const channels: ChannelConfig[] = channelNames.map((name) => readComponent(CHANNEL_TYPES, r, a + 'channels.' + name, context(name)));
  const sources: SpoolDirSourceConfig[] = [];
  const avroSources: AvroSourceConfig[] = [];
  for (const name of r.list(a + 'sources')) {
    const source = readComponent(SOURCE_TYPES, r, a + 'sources.' + name, context(name));
    if (source.type === 'avro') avroSources.push(source);
    else sources.push(source);
  }
  const sinks: AvroSinkConfig[] = r.list(a + 'sinks').map((name) => readComponent(SINK_TYPES, r, a + 'sinks.' + name, context(name)));
  const jobs: UrlWindowJobConfig[] = r.list(a + 'jobs').map((name) => readComponent(JOB_TYPES, r, a + 'jobs.' + name, context(name)));
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
  if (sources.length + avroSources.length + sinks.length + jobs.length === 0) {
    throw new ConfigError('LF_CONFIG_MISSING_KEY', `${file}: agent ${JSON.stringify(agent)} has no sources, sinks or jobs (is --name right?)`, a + 'sources');
  }
  for (const s of [...sources, ...avroSources, ...sinks]) {
    if (!channelNames.includes(s.channel)) throw r.missing(`${a}channels (${s.channel})`);
  }
  return Object.freeze({ agent, file, sources, avroSources, channels, sinks, jobs, http, notImplemented });
}

/** Flume settings that have no effect here (yet): accepted, listed in a start-up warning. */
const FLUME_KEYS_NOT_IMPLEMENTED: readonly RegExp[] = [
  /^sources\.[^.]+\.(trackerDir|recursiveDirectorySearch|bufferMaxLines|bufferMaxLineLength|skipToEnd|trackingPolicy|maxBackoff|threads|deserializer\.outputCharset)$/,
  /^sources\.[^.]+\.selector\.(header|mapping\..+|optional\..+|default)$/,
  /^channels\.[^.]+\.(keepAlive|byteCapacity|byteCapacityBufferPercentage)$/,
  // the file channel's tuning and options: its own checkpoint is written after every sink commit
  /^channels\.[^.]+\.(useDualCheckpoints|backupCheckpointDir|checkpointInterval|checkpointOnClose|minimumRequiredSpace|use-log-replay-v1|use-fast-replay|fsyncPerTransaction|fsyncInterval)$/,
  /^sources\.[^.]+\.exclude-protocols$/,
  /^sinks\.[^.]+\.(exclude-protocols|maxIoWorkers|reset-connection-interval|threads)$/,
  /^sinkgroups(\..+)?$/,
];
