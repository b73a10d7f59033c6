import type { HistogramSnapshot } from './histogram.js';

/**
 * The one stats shape: every figure the pipeline reports, gathered by `agent.stats()`.
 * `/api/stats` shows it without the `METRICS_ONLY` fields (and so do the dashboard, the
 * `stats` server-sent event and `logflow status`); `/metrics` renders `METRICS` from it.
 * A new figure is a field here, a row in `METRICS` (its series name, help, type, labels)
 * and, when `/api/stats` should not show it, its name in `METRICS_ONLY`; its stage
 * produces the number (the job's figures are declared here too, in `JobStats`).
 */
export interface Stats {
  /** Events received by the job (parsed or not, duplicates excluded), else read and received by the sources. */
  readonly eventsIn: number;
  readonly eventsCounted: number;
  readonly parseErrors: number;
  readonly duplicates: number;
  /** Lines older than the live window: counted in the history (at their own time) only. */
  readonly historyOnlyEvents: number;
  /** When the job last received events (ISO 8601); null since the start until it does, or without a job. */
  readonly lastEventAt?: string | null;
  readonly files: FileCounts;
  /** Files the TAILDIR sources follow, and the bytes written to them not yet read; absent without TAILDIR sources. */
  readonly followed?: { files: number; lagBytes: number };
  /** Events the channels hold, their capacity, and puts waiting for room now (a source blocked on a full channel). */
  readonly channel?: { size: number; capacity: number; waitingPuts: number };
  /** The last checkpoint written; `failedAttempts`: attempts that failed since (0 while it keeps up). */
  readonly checkpoint?: { seq: number; ageMs: number | null; lastWriteMs: number; failedAttempts: number };
  readonly window?: { distinctUrls: number; lastSlideMs: number; maxSlideMs: number };
  /** Connections the job's Avro receiver closed at once: not allowed by ipFilterRules, or past maxConnections. */
  readonly receiver?: { refusedConnections: RefusedConnections };
  /** The HTTP server's connections: open now, and closed at `a1.http.maxConnections` (the one idle longest, for a new one) (the HTTP thread adds these). */
  readonly http?: { readonly connections: number; readonly refusedConnections: number };
  /** Slides whose results wait for the database (locked, disk full); 0 when it keeps up. */
  readonly resultsWaiting?: number;
  /** A PostgreSQL results database: connected or not, reconnects tried. */
  readonly resultsDatabase?: { readonly up: boolean; readonly retries: number };
  readonly memory?: { rssMb: number; mainHeapMb: number; buffersMb: number; jobHeapMb: number; jobBuffersMb: number };
  /** CPU time of the process (all its threads), user + system: what a role costs per event. */
  readonly cpuSeconds?: number;
  /** A query node: how far behind the merge workers' results it reads. */
  readonly input?: InputLag;
  /** The cluster components of this process: counters and merge workers. */
  readonly cluster?: ClusterFigures;
  // For /metrics only (METRICS_ONLY):
  /** Lines the spool and TAILDIR sources read. */
  readonly eventsRead?: number;
  /** Lines the spool and TAILDIR sources cut at maxLineLength; absent without either. */
  readonly truncatedLines?: number;
  /** Connections the job's receiver and the avro sources closed at once, by reason; absent without either. */
  readonly avroRefusedConnections?: RefusedConnections;
  /** Sink deliveries retried, by reason; absent without sinks. */
  readonly sinkRetries?: { readonly error: number; readonly refused: number };
  /** Calls the avro sources answered FAILED (the sender resends), by reason; absent without avro sources. */
  readonly avroCallsRefused?: { readonly transactionCapacity: number; readonly channel: number };
  readonly slideSeconds?: HistogramSnapshot;
  readonly checkpointSeconds?: HistogramSnapshot;
}

/** The job's figures, posted by its thread (job-worker.ts) and gathered into Stats by agent-stats.ts. */
export interface JobStats {
  /** Events received (parsed or not), duplicates excluded. */
  readonly eventsIn: number;
  /** Events whose URL is counted in a closed batch (visible in the results). */
  readonly eventsCounted: number;
  /** Lines that parsed to no URL, in closed batches. */
  readonly parseErrors: number;
  /** Events received again (a sender's retry) and not counted twice. */
  readonly duplicates: number;
  /** Lines older than the live window (event time): counted in the history only, at their own time. */
  readonly historyOnlyEvents: number;
  /** When events last came (ms), undefined since the start until they do. */
  readonly lastEventMs: number | undefined;
  readonly windowEndMs: number | undefined;
  /** `failedAttempts`: checkpoints that failed since the last one written (a test waits on it to know the job tried). */
  readonly checkpoint: { seq: number; writtenAt: number | undefined; lastMs: number; failedAttempts: number };
  /** The last slide's duration and the longest of the last 60, in ms. */
  readonly slideMs: { last: number; max: number };
  /** Distinct URLs in the window now. */
  readonly distinctUrls: number;
  /** The job thread's JavaScript heap. */
  readonly heapUsedMb: number;
  /** Typed arrays and buffers of the job's thread (the interner, the window's slots). */
  readonly buffersMb: number;
  /** Durations of slides and of checkpoints, in ms, for /metrics. */
  readonly slideHistogram: HistogramSnapshot;
  readonly checkpointHistogram: HistogramSnapshot;
  /** Avro connections closed at once: refused by `ipFilterRules`, or past `maxConnections`. */
  readonly refusedConnections: { readonly ipFilter: number; readonly maxConnections: number };
  /** Results waiting for the database (it failed); 0 normally. */
  readonly resultsWaiting: number;
  /** A query node (`input = jetstream`): how far behind the merge workers' results it reads. */
  readonly input?: InputLag;
  /** A PostgreSQL store: whether it is connected, and how many reconnects it tried. */
  readonly resultsDatabase?: { readonly up: boolean; readonly retries: number };
}

/** What the counters and merge workers of a process show: what each owns, how far behind it is. */
export interface ClusterFigures {
  readonly counters: readonly {
    readonly name: string;
    readonly id: string;
    /** Why it does not count (a setting that differs from the cluster's), or null. */
    readonly problem: string | null;
    readonly partitions: readonly {
      readonly partition: number;
      readonly covered: number;
      readonly lagMessages: number;
      readonly lagSeconds: number;
      readonly publishFailures: number;
      /** Events removed before they were counted: the partition is stopped. */
      readonly gap: { readonly from: number; readonly to: number } | null;
      /** Lines counted, and (URL, count) pairs published: what the counter's work is per pair. */
      readonly linesOut: number;
      readonly pairsOut: number;
    }[];
  }[];
  readonly merges: readonly {
    readonly name: string;
    readonly id: string;
    readonly problem: string | null;
    readonly shards: readonly {
      readonly shard: number;
      readonly applied: number;
      readonly closedThrough: number | null;
      readonly lagMessages: number;
      readonly lagSeconds: number;
      readonly waitingToPublish: number;
      readonly publishFailures: number;
      readonly distinctUrls: number;
      readonly gap: { readonly seq: number; readonly partition: number } | null;
      /** (URL, count) pairs merged in, and written in the batches' rows. */
      readonly pairsIn: number;
      readonly rowPairsOut: number;
    }[];
  }[];
}

/** A query node's lag behind its input. */
export interface InputLag {
  readonly lagMessages: number;
  readonly lagSeconds: number;
  /** Merge shards that have closed less far than another. */
  readonly shardsBehind: number;
  /** Why it does not read (a setting that differs from the cluster's), or null. */
  readonly problem: string | null;
}

/**
 * What one component adds to the agent's Stats (its `stats()`, see components.ts): the agent
 * sums each figure over the components that report it (agent-stats.ts). A component reports
 * the figures it has; a figure that no component reports is absent from Stats, or 0.
 */
export interface StatsPart {
  /** A source's files by state, lines read, lines cut at maxLineLength. */
  readonly files?: FileCounts;
  /** A TAILDIR source's followed files, and the bytes written to them not read yet. */
  readonly followed?: { readonly files: number; readonly lagBytes: number };
  readonly eventsRead?: number;
  readonly truncatedLines?: number;
  /** An avro source's events received, connections closed at once, calls answered FAILED. */
  readonly eventsReceived?: number;
  readonly refusedConnections?: RefusedConnections;
  readonly refusedCalls?: { readonly transactionCapacity: number; readonly channel: number };
  /** A sink's deliveries retried, by reason. */
  readonly sinkRetries?: { readonly error: number; readonly refused: number };
  /** A channel's events held, its capacity, and the puts waiting for room. */
  readonly channel?: { readonly size: number; readonly capacity: number; readonly waitingPuts: number };
  /** The job's own figures (one job per agent), once its thread posted them. */
  readonly job?: JobStats | undefined;
  /** A counter's or a merge worker's figures (cluster.counters, cluster.merges of Stats). */
  readonly counter?: ClusterFigures['counters'][number];
  readonly merge?: ClusterFigures['merges'][number];
}

/** The fields `/api/stats` leaves out. */
export const METRICS_ONLY = ['eventsRead', 'avroRefusedConnections', 'truncatedLines', 'sinkRetries', 'avroCallsRefused', 'slideSeconds', 'checkpointSeconds'] as const;

/** What `/api/stats` answers (and the dashboard and `logflow status` read). */
export type ApiStats = Omit<Stats, (typeof METRICS_ONLY)[number]>;

export function apiStats(stats: Stats): ApiStats {
  const api: Record<string, unknown> = { ...stats };
  for (const key of METRICS_ONLY) delete api[key];
  return api as ApiStats;
}

export type FileCounts = Record<'pending' | 'inProgress' | 'completed' | 'failed', number>;
export type RefusedConnections = { readonly ipFilter: number; readonly maxConnections: number };

/** One /metrics series: a value, values by one label, or a histogram; undefined leaves it out. */
export interface MetricSpec {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly help: string;
  /** A labelled series: the label's name, and its value for each key of the figure (without `values`: the keys are the values). */
  readonly label?: { readonly name: string; readonly values?: Readonly<Record<string, string>> };
  readonly value: (s: Stats) => number | Readonly<Record<string, number>> | HistogramSnapshot | undefined;
}

const reasons = (...names: string[]) => ({ name: 'reason', values: Object.fromEntries(names.map((n) => [n, n])) });

/** Every /metrics series, in the order it is rendered. */
export const METRICS: readonly MetricSpec[] = [
  { name: 'logflow_events_read_total', type: 'counter', help: 'Lines the spool and TAILDIR sources read.', value: (s) => s.eventsRead ?? 0 },
  { name: 'logflow_events_in_total', type: 'counter', help: 'Events the job received (duplicates excluded).', value: (s) => s.eventsIn },
  { name: 'logflow_events_counted_total', type: 'counter', help: 'Events whose URL is counted in the published results.', value: (s) => s.eventsCounted },
  { name: 'logflow_parse_errors_total', type: 'counter', help: 'Lines that were not access-log lines.', value: (s) => s.parseErrors },
  { name: 'logflow_duplicate_events_total', type: 'counter', help: 'Events received again and not counted twice.', value: (s) => s.duplicates },
  { name: 'logflow_history_only_events_total', type: 'counter', help: 'Lines older than the live window: counted in the history at their own time, not in the window (event-time mode).', value: (s) => s.historyOnlyEvents },
  { name: 'logflow_channel_events', type: 'gauge', help: 'Events held by the memory channel.', value: (s) => s.channel?.size ?? 0 },
  { name: 'logflow_channel_capacity_events', type: 'gauge', help: 'Capacity of the memory channel.', value: (s) => s.channel?.capacity ?? 0 },
  {
    name: 'logflow_files', type: 'gauge', help: 'Files the source has seen, by state.',
    label: { name: 'state', values: { pending: 'pending', inProgress: 'reading', completed: 'completed', failed: 'failed' } },
    value: (s) => s.files,
  },
  { name: 'logflow_followed_files', type: 'gauge', help: 'Files the TAILDIR sources follow.', value: (s) => s.followed?.files },
  { name: 'logflow_followed_lag_bytes', type: 'gauge', help: 'Bytes written to followed files and not read yet (as of the last look).', value: (s) => s.followed?.lagBytes },
  { name: 'logflow_window_urls', type: 'gauge', help: 'Distinct URLs in the current window.', value: (s) => s.window?.distinctUrls ?? 0 },
  { name: 'logflow_results_waiting', type: 'gauge', help: 'Slides whose results wait for the database (locked, disk full).', value: (s) => s.resultsWaiting ?? 0 },
  {
    name: 'logflow_results_database_up', type: 'gauge', help: 'Whether the job is connected to its PostgreSQL results database (absent with SQLite).',
    value: (s) => (s.resultsDatabase === undefined ? undefined : s.resultsDatabase.up ? 1 : 0),
  },
  { name: 'logflow_results_database_reconnects_total', type: 'counter', help: 'Reconnects to the PostgreSQL results database tried (absent with SQLite).', value: (s) => s.resultsDatabase?.retries },
  {
    name: 'logflow_avro_refused_connections_total', type: 'counter', help: "Connections the Avro receivers (the job's, avro sources') closed at once, by reason.",
    label: reasons('ipFilter', 'maxConnections'), value: (s) => s.avroRefusedConnections,
  },
  { name: 'logflow_http_connections', type: 'gauge', help: 'HTTP connections open now.', value: (s) => s.http?.connections },
  {
    name: 'logflow_http_refused_connections_total', type: 'counter', help: 'HTTP connections closed at a1.http.maxConnections: the one idle longest, for a new one (or the new one, every other busy).',
    label: reasons('maxConnections'), value: (s) => (s.http ? { maxConnections: s.http.refusedConnections } : undefined),
  },
  { name: 'logflow_truncated_lines_total', type: 'counter', help: 'Lines cut at maxLineLength (the rest of the line is dropped).', value: (s) => s.truncatedLines },
  { name: 'logflow_sink_retries_total', type: 'counter', help: 'Sink deliveries retried, by reason.', label: reasons('error', 'refused'), value: (s) => s.sinkRetries },
  {
    name: 'logflow_avro_refused_calls_total', type: 'counter', help: 'Calls the avro sources answered FAILED (resent by the sender), by reason.',
    label: reasons('transactionCapacity', 'channel'), value: (s) => s.avroCallsRefused,
  },
  { name: 'logflow_process_cpu_seconds_total', type: 'counter', help: 'CPU time of the process, all threads, user and system.', value: (s) => s.cpuSeconds },
  { name: 'logflow_query_input_lag_messages', type: 'gauge', help: 'Query node: merge results stored and not read yet.', value: (s) => s.input?.lagMessages },
  { name: 'logflow_query_input_lag_seconds', type: 'gauge', help: 'Query node: how long ago the oldest unread merge result was stored.', value: (s) => s.input?.lagSeconds },
  { name: 'logflow_query_shards_behind', type: 'gauge', help: 'Query node: merge shards that have closed less far than another.', value: (s) => s.input?.shardsBehind },
  { name: 'logflow_cluster_not_running', type: 'gauge', help: 'Cluster components that do not run because a setting differs from the cluster\'s (the log says which key).', value: (s) => notRunning(s) },
  { name: 'logflow_counter_partitions', type: 'gauge', help: 'Partitions this process\'s counters own.', value: (s) => s.cluster && sum(s.cluster.counters.map((c) => c.partitions.length)) },
  ...perKey('counter_partition', 'partition', 'Counter', (s) => s.cluster?.counters.flatMap((c) => c.partitions.map((p) => ({ key: String(p.partition), ...p })))),
  { name: 'logflow_merge_shards', type: 'gauge', help: 'Merge shards this process\'s merge workers own.', value: (s) => s.cluster && s.cluster.merges.length > 0 ? sum(s.cluster.merges.map((m) => m.shards.length)) : undefined },
  ...perKey('merge_shard', 'shard', 'Merge worker', (s) => s.cluster?.merges.flatMap((m) => m.shards.map((q) => ({ key: String(q.shard), ...q })))),
  { name: 'logflow_batch_processing_seconds', type: 'histogram', help: 'Time to close a batch and publish the slide (enter, leave, top, persist).', value: (s) => s.slideSeconds },
  { name: 'logflow_checkpoint_seconds', type: 'histogram', help: 'Time to write a checkpoint.', value: (s) => s.checkpointSeconds },
];

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function notRunning(s: Stats): number | undefined {
  if (!s.cluster && !s.input) return undefined;
  const problems = [...(s.cluster?.counters ?? []), ...(s.cluster?.merges ?? []), ...(s.input ? [s.input] : [])].filter((c) => c.problem !== null);
  return problems.length;
}

/** Lag, stops and publish failures of each partition (counters) or shard (merge workers) owned. */
function perKey(
  prefix: string,
  label: string,
  who: string,
  items: (s: Stats) => { key: string; lagMessages: number; lagSeconds: number; publishFailures: number; gap: unknown }[] | undefined,
): MetricSpec[] {
  const by = (f: (i: { lagMessages: number; lagSeconds: number; publishFailures: number; gap: unknown }) => number) => (s: Stats) => {
    const list = items(s);
    return list && list.length > 0 ? Object.fromEntries(list.map((i) => [i.key, f(i)])) : undefined;
  };
  return [
    { name: `logflow_${prefix}_lag_messages`, type: 'gauge', help: `${who}: messages stored and not yet counted, by ${label}.`, label: { name: label }, value: by((i) => i.lagMessages) },
    { name: `logflow_${prefix}_lag_seconds`, type: 'gauge', help: `${who}: how long ago the oldest uncounted message was stored, by ${label}.`, label: { name: label }, value: by((i) => i.lagSeconds) },
    { name: `logflow_${prefix}_stopped`, type: 'gauge', help: `${who}: 1 when messages were removed before they were read (a gap): stopped, by ${label}.`, label: { name: label }, value: by((i) => (i.gap ? 1 : 0)) },
    { name: `logflow_${prefix}_publish_failures_total`, type: 'counter', help: `${who}: publishes that failed (retried), by ${label}.`, label: { name: label }, value: by((i) => i.publishFailures) },
  ];
}
