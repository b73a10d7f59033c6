import { BUCKETS_MS, type HistogramSnapshot } from '../job/histogram.js';

/** What /metrics reports; the agent gathers it from the stages. */
export interface MetricsInput {
  readonly eventsRead: number;
  readonly eventsIn: number;
  readonly eventsCounted: number;
  readonly parseErrors: number;
  readonly duplicates: number;
  readonly lateEvents: number;
  readonly channel: { size: number; capacity: number };
  readonly files: Record<'pending' | 'inProgress' | 'completed' | 'failed', number>;
  readonly distinctUrls: number;
  readonly refusedConnections?: { readonly ipFilter: number; readonly maxConnections: number };
  readonly resultsWaiting: number;
  readonly slideSeconds?: HistogramSnapshot;
  readonly checkpointSeconds?: HistogramSnapshot;
  /** Lines the spool sources cut at maxLineLength. */
  readonly truncatedLines?: number;
  /** Avro sink deliveries retried: the call failed (`error`) or the receiver answered FAILED (`refused`). */
  readonly sinkRetries?: { readonly error: number; readonly refused: number };
  /** Calls the avro sources answered FAILED (the sender resends), by reason. */
  readonly avroCallsRefused?: { readonly transactionCapacity: number; readonly channel: number };
}

/** Prometheus text exposition format (version 0.0.4). */
export function renderMetrics(m: MetricsInput): string {
  const out: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) out.push(`${name}${labels} ${value}`);
  };
  metric('logflow_events_read_total', 'counter', 'Lines the spool source read.', [['', m.eventsRead]]);
  metric('logflow_events_in_total', 'counter', 'Events the job received (duplicates excluded).', [['', m.eventsIn]]);
  metric('logflow_events_counted_total', 'counter', 'Events whose URL is counted in the published results.', [['', m.eventsCounted]]);
  metric('logflow_parse_errors_total', 'counter', 'Lines that were not access-log lines.', [['', m.parseErrors]]);
  metric('logflow_duplicate_events_total', 'counter', 'Events received again and not counted twice.', [['', m.duplicates]]);
  metric('logflow_late_events_total', 'counter', 'Events older than the watermark, dropped (event-time mode).', [['', m.lateEvents]]);
  metric('logflow_channel_events', 'gauge', 'Events held by the memory channel.', [['', m.channel.size]]);
  metric('logflow_channel_capacity_events', 'gauge', 'Capacity of the memory channel.', [['', m.channel.capacity]]);
  metric('logflow_files', 'gauge', 'Files the source has seen, by state.', [
    ['{state="pending"}', m.files.pending],
    ['{state="reading"}', m.files.inProgress],
    ['{state="completed"}', m.files.completed],
    ['{state="failed"}', m.files.failed],
  ]);
  metric('logflow_window_urls', 'gauge', 'Distinct URLs in the current window.', [['', m.distinctUrls]]);
  metric('logflow_results_waiting', 'gauge', 'Slides whose results wait for the database (locked, disk full).', [['', m.resultsWaiting]]);
  if (m.refusedConnections) {
    metric('logflow_avro_refused_connections_total', 'counter', 'Connections the Avro receiver closed at once, by reason.', [
      ['{reason="ipFilter"}', m.refusedConnections.ipFilter],
      ['{reason="maxConnections"}', m.refusedConnections.maxConnections],
    ]);
  }
  if (m.truncatedLines !== undefined) metric('logflow_truncated_lines_total', 'counter', 'Lines cut at maxLineLength (the rest of the line is dropped).', [['', m.truncatedLines]]);
  if (m.sinkRetries) {
    metric('logflow_sink_retries_total', 'counter', 'Avro sink deliveries retried, by reason.', [
      ['{reason="error"}', m.sinkRetries.error],
      ['{reason="refused"}', m.sinkRetries.refused],
    ]);
  }
  if (m.avroCallsRefused) {
    metric('logflow_avro_refused_calls_total', 'counter', 'Calls the avro sources answered FAILED (resent by the sender), by reason.', [
      ['{reason="transactionCapacity"}', m.avroCallsRefused.transactionCapacity],
      ['{reason="channel"}', m.avroCallsRefused.channel],
    ]);
  }
  if (m.slideSeconds) histogram(out, 'logflow_batch_processing_seconds', 'Time to close a batch and publish the slide (enter, leave, top, persist).', m.slideSeconds);
  if (m.checkpointSeconds) histogram(out, 'logflow_checkpoint_seconds', 'Time to write a checkpoint.', m.checkpointSeconds);
  return out.join('\n') + '\n';
}

function histogram(out: string[], name: string, help: string, h: HistogramSnapshot): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
  BUCKETS_MS.forEach((le, i) => out.push(`${name}_bucket{le="${le / 1000}"} ${h.buckets[i]}`));
  out.push(`${name}_bucket{le="+Inf"} ${h.count}`, `${name}_sum ${h.sumMs / 1000}`, `${name}_count ${h.count}`);
}
