import type { Channel } from './channel/index.js';
import type { JobStats } from './job/index.js';
import type { PipelinedSink } from './sink/delivery.js';
import type { AvroSource, SpoolDirSource } from './source/index.js';
import type { ClusterFigures, FileCounts, Stats } from './telemetry/stats.js';
import type { PartialCounter } from './cluster/partial-counter.js';
import type { MergeWorker } from './cluster/merge-worker.js';

/** The stages whose figures make the agent's stats. */
export interface StatsParts {
  readonly job: JobStats | undefined;
  readonly sources: readonly SpoolDirSource[];
  readonly avroSources: readonly AvroSource[];
  readonly sinks: readonly PipelinedSink<unknown>[];
  readonly channels: Iterable<Channel>;
  readonly counters?: readonly PartialCounter[];
  readonly merges?: readonly MergeWorker[];
}

/**
 * Gathers the one stats shape (telemetry/stats.ts) from the stages: what /api/stats,
 * /metrics and the dashboard show. Figures of several components of a kind are summed.
 */
export function gatherStats({ job, sources, avroSources, sinks, channels, counters = [], merges = [] }: StatsParts): Stats {
  const files: FileCounts = { pending: 0, inProgress: 0, completed: 0, failed: 0 };
  for (const s of sources) {
    const c = s.files.counts();
    files.pending += c.pending;
    files.inProgress += c.inProgress;
    files.completed += c.completed;
    files.failed += c.failed;
  }
  let size = 0;
  let capacity = 0;
  for (const ch of channels) {
    size += ch.size;
    capacity += ch.capacity;
  }
  const eventsRead = sum(sources, (s) => s.eventsRead);
  return {
    eventsIn: job?.eventsIn ?? eventsRead + sum(avroSources, (s) => s.eventsReceived),
    eventsCounted: job?.eventsCounted ?? 0,
    parseErrors: job?.parseErrors ?? 0,
    duplicates: job?.duplicates ?? 0,
    lateEvents: job?.lateEvents ?? 0,
    files,
    channel: { size, capacity },
    memory: memoryFigures(job),
    cpuSeconds: cpuSeconds(),
    ...(job?.input && { input: job.input }),
    ...(counters.length + merges.length > 0 && { cluster: clusterFigures(counters, merges) }),
    ...(job && {
      window: {
        distinctUrls: job.distinctUrls,
        lastSlideMs: round2(job.slideMs.last),
        maxSlideMs: round2(job.slideMs.max),
      },
      checkpoint: {
        seq: job.checkpoint.seq,
        ageMs: job.checkpoint.writtenAt === undefined ? null : Date.now() - job.checkpoint.writtenAt,
        lastWriteMs: round2(job.checkpoint.lastMs),
      },
      receiver: { refusedConnections: job.refusedConnections },
      resultsWaiting: job.resultsWaiting,
      slideSeconds: job.slideHistogram,
      checkpointSeconds: job.checkpointHistogram,
    }),
    eventsRead,
    ...((job || avroSources.length > 0) && {
      avroRefusedConnections: {
        ipFilter: (job?.refusedConnections.ipFilter ?? 0) + sum(avroSources, (a) => a.refusedConnections.ipFilter),
        maxConnections: (job?.refusedConnections.maxConnections ?? 0) + sum(avroSources, (a) => a.refusedConnections.maxConnections),
      },
    }),
    ...(sources.length > 0 && { truncatedLines: sum(sources, (s) => s.truncatedLines) }),
    ...(sinks.length > 0 && { sinkRetries: { error: sum(sinks, (k) => k.retries.error), refused: sum(sinks, (k) => k.retries.refused) } }),
    ...(avroSources.length > 0 && {
      avroCallsRefused: {
        transactionCapacity: sum(avroSources, (a) => a.refusedCalls.transactionCapacity),
        channel: sum(avroSources, (a) => a.refusedCalls.channel),
      },
    }),
  };
}

function sum<T>(items: readonly T[], figure: (item: T) => number): number {
  let n = 0;
  for (const item of items) n += figure(item);
  return n;
}

/** process.memoryUsage() reads /proc each call; a poll every few ms should not pay for that each time. */
let memorySample = { at: 0, usage: process.memoryUsage() };
function memoryUsage(): NodeJS.MemoryUsage {
  const now = Date.now();
  if (now - memorySample.at >= 250) memorySample = { at: now, usage: process.memoryUsage() };
  return memorySample.usage;
}

function memoryFigures(job: { heapUsedMb: number; buffersMb: number } | undefined): Stats['memory'] {
  const m = memoryUsage();
  const mb = (n: number) => Math.round(n / 1048576);
  return { rssMb: mb(m.rss), mainHeapMb: mb(m.heapUsed), buffersMb: mb(m.arrayBuffers), jobHeapMb: job?.heapUsedMb ?? 0, jobBuffersMb: job?.buffersMb ?? 0 };
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

function cpuSeconds(): number {
  const u = process.cpuUsage();
  return Math.round((u.user + u.system) / 10_000) / 100;
}

function clusterFigures(counters: readonly PartialCounter[], merges: readonly MergeWorker[]): ClusterFigures {
  return { counters: counters.map((c) => c.figures), merges: merges.map((m) => m.figures) };
}
