import * as fileChannel from './channel/file-channel-config.js';
import * as memoryChannel from './channel/memory-channel-config.js';
import type { PropertyReader, ReadContext } from './conf/index.js';
import * as partialCounter from './cluster/partial-counter-config.js';
import * as mergeWorker from './cluster/merge-worker-config.js';
import * as urlWindowJob from './job/url-window-config.js';
import * as avroSink from './sink/avro-sink-config.js';
import * as jetstreamSink from './sink/jetstream/config.js';
import * as avroSource from './source/avro-source-config.js';
import * as spoolDir from './source/spooldir-config.js';

/**
 * Which config module reads `type = X` of each kind of component. Each module owns its
 * keys, defaults and checks (`read(reader, prefix, context)`); agent-config.ts only wires
 * them. A new component type is one module and one line here. The order of each table is
 * the order the types are listed in "must be one of" errors.
 */
export interface ConfigModule<C> {
  read(r: PropertyReader, prefix: string, context: ReadContext): C;
}

export const SOURCE_TYPES = { spooldir: spoolDir, avro: avroSource } as const satisfies Record<string, ConfigModule<unknown>>;
export const CHANNEL_TYPES = { memory: memoryChannel, file: fileChannel } as const satisfies Record<string, ConfigModule<unknown>>;
export const SINK_TYPES = { avro: avroSink, jetstream: jetstreamSink } as const satisfies Record<string, ConfigModule<unknown>>;
export const JOB_TYPES = { 'url-window-count': urlWindowJob, 'url-count-partial': partialCounter, 'url-count-merge': mergeWorker } as const satisfies Record<string, ConfigModule<unknown>>;

export type SpoolDirSourceConfig = spoolDir.SpoolDirSourceConfig;
export type AvroSourceConfig = avroSource.AvroSourceConfig;
export type MemoryChannelConfig = memoryChannel.MemoryChannelConfig;
export type FileChannelConfig = fileChannel.FileChannelConfig;
export type ChannelConfig = MemoryChannelConfig | FileChannelConfig;
export type AvroSinkConfig = avroSink.AvroSinkConfig;
export type JetStreamSinkConfig = jetstreamSink.JetStreamSinkConfig;
export type UrlWindowJobConfig = urlWindowJob.UrlWindowJobConfig;
/** Jobs of type `url-count-partial` (counters of a JetStream cluster). */
export type PartialCounterConfig = partialCounter.PartialCounterConfig;
/** Jobs of type `url-count-merge` (merge workers of a JetStream cluster). */
export type MergeWorkerConfig = mergeWorker.MergeWorkerConfig;

/** A table of component types: `type = X` -> the module that reads it. */
export type ComponentTypes = Record<string, ConfigModule<unknown>>;

/** Reads the component at `prefix` with the module its `type` names (checked against `types`). */
export function readComponent<T extends ComponentTypes>(
  types: T,
  r: PropertyReader,
  prefix: string,
  context: ReadContext,
): ReturnType<T[keyof T]['read']> {
  const type = r.oneOf(prefix + '.type', Object.keys(types) as (keyof T & string)[]);
  return types[type]!.read(r, prefix, context) as ReturnType<T[keyof T]['read']>;
}
