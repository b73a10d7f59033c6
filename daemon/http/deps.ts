import type { Logger } from '../log.js';
import type { ResultsReader } from '../store/index.js';
import type { MetricsInput } from './metrics.js';

/** The job's batch interval and window, for range queries and their defaults. */
export interface JobTiming {
  readonly batchIntervalMs: number;
  readonly windowDurationMs: number;
  /** The job's `logFormat`, tried first by `/api/files/:name/check`. */
  readonly logFormat?: string;
}

/** Live figures the pipeline owns (files, counters); the HTTP layer only reads them. */
export interface PipelineStats {
  readonly eventsIn: number;
  readonly eventsCounted: number;
  readonly parseErrors: number;
  readonly duplicates: number;
  readonly lateEvents: number;
  readonly files: { pending: number; inProgress: number; completed: number; failed: number };
  readonly channel?: { size: number; capacity: number };
  readonly checkpoint?: { seq: number; ageMs: number | null; lastWriteMs: number };
  readonly window?: { distinctUrls: number; lastSlideMs: number; maxSlideMs: number };
  /** Connections the job's Avro receiver closed at once: not allowed by ipFilterRules, or past maxConnections. */
  readonly receiver?: { refusedConnections: { ipFilter: number; maxConnections: number } };
  /** Slides whose results wait for the database (locked, disk full); 0 when it keeps up. */
  readonly resultsWaiting?: number;
  readonly memory?: { rssMb: number; mainHeapMb: number; buffersMb: number; jobHeapMb: number; jobBuffersMb: number };
}

/** A file as /api/files shows it. */
export interface FileView {
  readonly name: string;
  readonly path: string;
  readonly state: string;
  readonly size: number;
  readonly bytesRead: number;
  readonly lines: number;
  readonly truncatedLines: number;
  readonly parseErrors: number | undefined;
  readonly startedAt: number | undefined;
  readonly finishedAt: number | undefined;
  readonly reason: string | undefined;
  /** Most lines did not parse (a file in another format): what to look at. */
  readonly warning?: string | undefined;
  /** A duplicate's original (the completed file with the same content). */
  readonly duplicateOf?: string | undefined;
}

export interface HttpDeps {
  /** When set, `/api/*` and `/metrics` want `Authorization: Bearer <token>`. */
  readonly authToken?: string | undefined;
  /**
   * The names the server answers to in the Host header (`*`: any); other names get a 421,
   * so a web page cannot read the API through DNS rebinding. Undefined: no check.
   */
  readonly allowedHosts?: readonly string[] | undefined;
  readonly results: ResultsReader | undefined;
  readonly job: JobTiming | undefined;
  /** Figures the pipeline owns; asked of the main thread when the server runs in its own. */
  readonly stats: () => PipelineStats | Promise<PipelineStats>;
  readonly files: () => FileView[] | Promise<FileView[]>;
  readonly metrics: () => MetricsInput | Promise<MetricsInput>;
  readonly logger: Logger;
}
