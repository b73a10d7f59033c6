import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CHANNEL_TYPES, JOB_TYPES, readComponent, SINK_TYPES, SOURCE_TYPES, type ComponentTypes } from './components.js';
import type { ChannelConfig, JobConfig, SinkConfig, SourceConfig } from './components.js';
import { parseProperties, PropertyReader, type ReadContext } from './conf/index.js';
import { resolveEnvVars } from './conf/env-vars.js';
import { ConfigError } from './errors.js';
import { read as readHttp, type HttpConfig } from './http/config.js';

export type * from './components.js';
export type { HttpConfig } from './http/config.js';
export type { InterceptorConfig } from './source/source-config.js';

/**
 * The agent's configuration: which components it runs and how they are wired. Each
 * component's own keys are read by its config module (see components.ts).
 */
export interface AgentConfig {
  readonly agent: string;
  readonly file: string;
  /** Each kind's components in the order `<agent>.<kind>` lists them (`ofType` picks a type's). */
  readonly sources: readonly SourceConfig[];
  readonly channels: readonly ChannelConfig[];
  readonly sinks: readonly SinkConfig[];
  readonly jobs: readonly JobConfig[];
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
  const { channelNames, channels, sources, sinks, jobs, http } = read;
  const notImplemented = r.unused(a).map((p) => `${p.key} (line ${p.line})`);
  if (sources.length + sinks.length + jobs.length === 0) {
    throw new ConfigError('LF_CONFIG_MISSING_KEY', `${file}: agent ${JSON.stringify(agent)} has no sources, sinks or jobs (is --name right?)`, a + 'sources');
  }
  for (const s of [...sources, ...sinks]) {
    if (!channelNames.includes(s.channel)) throw r.missing(`${a}channels (${s.channel})`);
  }
  return Object.freeze({ agent, file, sources, channels, sinks, jobs, http, notImplemented });
}

/** Every component of the agent, read in wiring order by its type's module; the first bad key throws. */
function readComponents(r: PropertyReader, a: string, resolve: (p: string) => string) {
  const channelNames = r.list(a + 'channels');
  const knownChannel = (key: string, value: string) => {
    if (!channelNames.includes(value)) {
      throw r.at(r.raw(key)!, `channel ${JSON.stringify(value)} is not listed in ${a}channels`);
    }
    return value;
  };
  const context = (name: string): ReadContext => ({ name, resolve, knownChannel });
  /** The components listed in `<agent>.<kind>`, each read by the module its type names. */
  const listed = <T extends ComponentTypes>(types: T, kind: string) =>
    r.list(a + kind).map((name) => readComponent(types, r, `${a}${kind}.${name}`, context(name)));
  const channels = listed(CHANNEL_TYPES, 'channels');
  const sources = listed(SOURCE_TYPES, 'sources');
  const sinks = listed(SINK_TYPES, 'sinks');
  const jobs = listed(JOB_TYPES, 'jobs');
  const http = r.keysUnder(a + 'http').length > 0 ? readHttp(r, a + 'http') : undefined;
  return { channelNames, channels, sources, sinks, jobs, http };
}

/** Flume settings that have no effect here (yet): accepted, listed in a start-up warning. */
const FLUME_KEYS_NOT_IMPLEMENTED: readonly RegExp[] = [
  /^sources\.[^.]+\.(recursiveDirectorySearch|bufferMaxLines|bufferMaxLineLength|skipToEnd|trackingPolicy|maxBackoff|threads|deserializer\.outputCharset)$/,
  /^sources\.[^.]+\.selector\.(header|mapping\..+|optional\..+|default)$/,
  /^channels\.[^.]+\.(keepAlive|byteCapacity|byteCapacityBufferPercentage)$/,
  // the file channel's tuning and options: its own checkpoint is written after every sink commit
  /^channels\.[^.]+\.(useDualCheckpoints|backupCheckpointDir|checkpointInterval|checkpointOnClose|minimumRequiredSpace|use-log-replay-v1|use-fast-replay|fsyncPerTransaction|fsyncInterval)$/,
  /^sources\.[^.]+\.exclude-protocols$/,
  // TAILDIR: a per-event header (events share their headers here), and Flume's poll backoff (files are watched here)
  /^sources\.[^.]+\.(byteOffsetHeader|backoffSleepIncrement|maxBackoffSleep)$/,
  /^sinks\.[^.]+\.(exclude-protocols|maxIoWorkers|reset-connection-interval|threads)$/,
  /^sinkgroups(\..+)?$/,
];
