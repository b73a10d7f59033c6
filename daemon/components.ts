import * as fileChannel from './channel/file-channel-config.js';
import * as memoryChannel from './channel/memory-channel-config.js';
import type { Channel } from './channel/index.js';
import type { PropertyReader, ReadContext } from './conf/index.js';
import * as partialCounter from './cluster/partial-counter-config.js';
import * as mergeWorker from './cluster/merge-worker-config.js';
import type { JobResults, JobStartOptions } from './job/index.js';
import type { LiveTop, LiveTopQuery } from './job/live-top.js';
import * as urlWindowJob from './job/url-window-config.js';
import type { Logger } from './log.js';
import * as avroSink from './sink/avro-sink-config.js';
import * as jetstreamSink from './sink/jetstream/config.js';
import type { FileStatus } from './source/index.js';
import * as avroSource from './source/avro-source-config.js';
import type { PositionKeeper } from './source/source-context.js';
import * as spoolDir from './source/spooldir-config.js';
import * as taildir from './source/taildir/taildir-config.js';
import type { FollowedView } from './source/taildir/index.js';
import type { StatsPart } from './telemetry/stats.js';

/**
 * The component types, and the one lifecycle they share (Vector's model): a config module
 * reads and checks `<agent>.<kind>.<name>.*` into a frozen config; the runtime's module
 * builds it, `build(config, ctx)`, into a Component; the agent starts, stops and asks it
 * for its figures. A new component type is one module (its config and its runtime) and one
 * line in a table below; agent-config.ts, agent.ts and agent-stats.ts stay as they are.
 */

/** Where an Avro receiver listens, or where a sink delivers. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/**
 * A component as the agent runs it. Start-up runs back to front, shutdown in pipeline order
 * (see agent.ts). Besides its lifecycle, a component may declare what it can do for others:
 * the agent wires what the components declare, never what their classes are.
 */
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  /** Stops taking in; hands what it holds downstream. */
  stop(): Promise<void>;
  /** After every component stopped, in the same order: the last steps that wait on downstream's last word. */
  close?(): Promise<void>;
  /** Its figures, summed into the agent's Stats (agent-stats.ts). */
  stats(): StatsPart;
  /** A source: the files it has seen, for /api/files. */
  fileList?(): FileStatus[];
  /** A TAILDIR source: the files it follows, for /api/followed. */
  followed?(): FollowedView[];
  /** A sink: the Avro receiver it delivers to. */
  readonly deliversTo?: Endpoint;
  /** A job: where its Avro receiver listens. */
  readonly receivesAt?: Endpoint;
  /**
   * A job or a channel that keeps the positions of the sources' files durably: a file
   * resumes after what it kept and finishes once all of it is kept (exactly-once). The job
   * does so for every source of the agent when a sink of the agent feeds it; a channel, for
   * the sources that put into it.
   */
  readonly positionKeeper?: PositionKeeper;
  /** A job whose results the HTTP API serves: its results database, and their timing. */
  readonly results?: JobResults;
  /** ...and its live window's top keys by dimension and status (`/api/top?by=&status=`), asked of its thread. */
  readonly liveTop?: (query: LiveTopQuery) => Promise<LiveTop>;
}

/** A channel: the medium sources put into and sinks take from. */
export interface ChannelComponent extends Component {
  readonly channel: Channel;
}

/** What `build(config, ctx)` gets besides the config; a runtime takes the part it needs. */
export interface BuildContext {
  /** The configuration file, and the component's key in it (`a1.sources.r1`): errors name the setting. */
  readonly file: string;
  readonly key: string;
  readonly logger: Logger;
  readonly options: JobStartOptions;
  /** A nice increment for the pipeline's threads, so queries on the HTTP thread come first. */
  readonly pipelineNice: number;
  /** A channel of the agent (channels are built first). */
  channel(name: string): Channel;
  /** Who keeps the positions of a source that puts into `channel` (jobs and sinks are built before sources). */
  positionKeeper(channel: string): PositionKeeper | undefined;
}

/** One component type: how its keys are read, and how its runtime is built from them. */
export interface ComponentType<C, R extends Component = Component> {
  readonly read: (r: PropertyReader, prefix: string, context: ReadContext) => C;
  /**
   * The runtime's module, loaded when an agent builds one: `logflow check` and `drop` read
   * configurations without loading every runtime (a third of a second of CPU).
   */
  readonly runtime: () => Promise<{ readonly build: (config: C, ctx: BuildContext) => R }>;
}

function type<C, R extends Component = Component>(read: ComponentType<C, R>['read'], runtime: ComponentType<C, R>['runtime']): ComponentType<C, R> {
  return { read, runtime };
}

// The order of each table is the order the types are listed in "must be one of" errors.
export const SOURCE_TYPES = {
  spooldir: type(spoolDir.read, () => import('./source/spooldir-source.js')),
  avro: type(avroSource.read, () => import('./source/avro-source.js')),
  TAILDIR: type(taildir.read, () => import('./source/taildir/taildir-source.js')),
};
export const CHANNEL_TYPES = {
  memory: type<memoryChannel.MemoryChannelConfig, ChannelComponent>(memoryChannel.read, () => import('./channel/memory-channel.js')),
  file: type<fileChannel.FileChannelConfig, ChannelComponent>(fileChannel.read, () => import('./channel/file-channel.js')),
};
export const SINK_TYPES = {
  avro: type(avroSink.read, () => import('./sink/avro-sink.js')),
  jetstream: type(jetstreamSink.read, () => import('./sink/jetstream/jetstream-sink.js')),
};
export const JOB_TYPES = {
  'url-window-count': type(urlWindowJob.read, () => import('./job/job-host.js')),
  'url-count-partial': type(partialCounter.read, () => import('./cluster/partial-counter.js')),
  'url-count-merge': type(mergeWorker.read, () => import('./cluster/merge-worker.js')),
};

/** A table of component types: `type = X` -> its type (its config module's `read` is all this file's readers need). */
export type ComponentTypes = Record<string, { readonly read: (r: PropertyReader, prefix: string, context: ReadContext) => unknown }>;
/** The config of any type of a table. */
type ConfigOf<T extends ComponentTypes> = ReturnType<T[keyof T]['read']>;

export type SourceConfig = ConfigOf<typeof SOURCE_TYPES>;
export type ChannelConfig = ConfigOf<typeof CHANNEL_TYPES>;
export type SinkConfig = ConfigOf<typeof SINK_TYPES>;
export type JobConfig = ConfigOf<typeof JOB_TYPES>;
export type SpoolDirSourceConfig = spoolDir.SpoolDirSourceConfig;
export type AvroSourceConfig = avroSource.AvroSourceConfig;
export type TaildirSourceConfig = taildir.TaildirSourceConfig;
export type MemoryChannelConfig = memoryChannel.MemoryChannelConfig;
export type FileChannelConfig = fileChannel.FileChannelConfig;
export type AvroSinkConfig = avroSink.AvroSinkConfig;
export type JetStreamSinkConfig = jetstreamSink.JetStreamSinkConfig;
export type UrlWindowJobConfig = urlWindowJob.UrlWindowJobConfig;
/** Jobs of type `url-count-partial` (counters of a JetStream cluster). */
export type PartialCounterConfig = partialCounter.PartialCounterConfig;
/** Jobs of type `url-count-merge` (merge workers of a JetStream cluster). */
export type MergeWorkerConfig = mergeWorker.MergeWorkerConfig;

/** Reads the component at `prefix` with the type its `type` key names (one of `types`). */
export function readComponent<T extends ComponentTypes>(types: T, r: PropertyReader, prefix: string, context: ReadContext): ConfigOf<T> {
  const name = r.oneOf(prefix + '.type', Object.keys(types));
  return types[name]!.read(r, prefix, context) as ConfigOf<T>;
}

/** Builds a component with the runtime its config's `type` names. */
export async function buildComponent<R extends Component>(
  types: Record<string, { readonly runtime: () => Promise<{ readonly build: (config: never, ctx: BuildContext) => R }> }>,
  config: { readonly type: string },
  ctx: BuildContext,
): Promise<R> {
  const { build } = await types[config.type]!.runtime();
  return build(config as never, ctx);
}

/** The configs of one type among a kind's, e.g. `ofType(config.sources, 'spooldir')`. */
export function ofType<C extends { readonly type: string }, T extends C['type']>(configs: readonly C[], type: T): Extract<C, { readonly type: T }>[] {
  return configs.filter((c): c is Extract<C, { readonly type: T }> => c.type === type);
}
