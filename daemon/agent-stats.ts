import { memoryUsage } from './telemetry/memory.js';
import type { ClusterFigures, FileCounts, JobStats, RefusedConnections, Stats, StatsPart } from './telemetry/stats.js';

/**
 * Gathers the one stats shape (telemetry/stats.ts) from the components' parts: what
 * /api/stats, /metrics and the dashboard show. Figures of several components are summed.
 */
export function gatherStats(parts: readonly StatsPart[]): Stats {
  const files: FileCounts = { pending: 0, inProgress: 0, completed: 0, failed: 0 };
  let job: JobStats | undefined;
  let size = 0;
  let capacity = 0;
  let waitingPuts = 0;
  let eventsRead = 0;
  let eventsReceived = 0;
  let truncatedLines: number | undefined;
  let followed: { files: number; lagBytes: number } | undefined;
  let sinkRetries: { error: number; refused: number } | undefined;
  let refusedConnections: { ipFilter: number; maxConnections: number } | undefined;
  let refusedCalls: { transactionCapacity: number; channel: number } | undefined;
  const counters: ClusterFigures['counters'][number][] = [];
  const merges: ClusterFigures['merges'][number][] = [];
  for (const p of parts) {
    if (p.counter) counters.push(p.counter);
    if (p.merge) merges.push(p.merge);
    if (p.job) job = p.job;
    if (p.files) {
      files.pending += p.files.pending;
      files.inProgress += p.files.inProgress;
      files.completed += p.files.completed;
      files.failed += p.files.failed;
    }
    if (p.channel) {
      size += p.channel.size;
      capacity += p.channel.capacity;
      waitingPuts += p.channel.waitingPuts;
    }
    eventsRead += p.eventsRead ?? 0;
    eventsReceived += p.eventsReceived ?? 0;
    if (p.truncatedLines !== undefined) truncatedLines = (truncatedLines ?? 0) + p.truncatedLines;
    if (p.followed) {
      followed ??= { files: 0, lagBytes: 0 };
      followed.files += p.followed.files;
      followed.lagBytes += p.followed.lagBytes;
    }
    if (p.sinkRetries) {
      sinkRetries ??= { error: 0, refused: 0 };
      sinkRetries.error += p.sinkRetries.error;
      sinkRetries.refused += p.sinkRetries.refused;
    }
    if (p.refusedConnections) refusedConnections = addRefused(refusedConnections, p.refusedConnections);
    if (p.refusedCalls) {
      refusedCalls ??= { transactionCapacity: 0, channel: 0 };
      refusedCalls.transactionCapacity += p.refusedCalls.transactionCapacity;
      refusedCalls.channel += p.refusedCalls.channel;
    }
  }
  // The job's receiver and the avro sources close connections alike: one figure for both.
  if (job) refusedConnections = addRefused(refusedConnections, job.refusedConnections);
  return {
    eventsIn: job?.eventsIn ?? eventsRead + eventsReceived,
    eventsCounted: job?.eventsCounted ?? 0,
    parseErrors: job?.parseErrors ?? 0,
    duplicates: job?.duplicates ?? 0,
    historyOnlyEvents: job?.historyOnlyEvents ?? 0,
    ...(job && { lastEventAt: job.lastEventMs === undefined ? null : new Date(job.lastEventMs).toISOString() }),
    files,
    ...(followed && { followed }),
    channel: { size, capacity, waitingPuts },
    memory: memoryFigures(job),
    cpuSeconds: cpuSeconds(),
    ...(job?.input && { input: job.input }),
    ...(counters.length + merges.length > 0 && { cluster: { counters, merges } }),
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
        failedAttempts: job.checkpoint.failedAttempts,
      },
      receiver: { refusedConnections: job.refusedConnections },
      resultsWaiting: job.resultsWaiting,
      ...(job.resultsDatabase && { resultsDatabase: job.resultsDatabase }),
      slideSeconds: job.slideHistogram,
      checkpointSeconds: job.checkpointHistogram,
    }),
    eventsRead,
    ...(refusedConnections && { avroRefusedConnections: refusedConnections }),
    ...(truncatedLines !== undefined && { truncatedLines }),
    ...(sinkRetries && { sinkRetries }),
    ...(refusedCalls && { avroCallsRefused: refusedCalls }),
  };
}

function addRefused(sum: RefusedConnections | undefined, more: RefusedConnections): RefusedConnections {
  return { ipFilter: (sum?.ipFilter ?? 0) + more.ipFilter, maxConnections: (sum?.maxConnections ?? 0) + more.maxConnections };
}

/** process.memoryUsage() reads /proc each call; a poll every few ms should not pay for that each time. */
let memorySample = { at: 0, usage: memoryUsage() };
function sampledMemory(): NodeJS.MemoryUsage {
  const now = Date.now();
  if (now - memorySample.at >= 250) memorySample = { at: now, usage: memoryUsage() };
  return memorySample.usage;
}

function memoryFigures(job: { heapUsedMb: number; buffersMb: number } | undefined): Stats['memory'] {
  const m = sampledMemory();
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
