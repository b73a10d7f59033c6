import type { PostgresConfig } from './database-config.js';

/**
 * What the HTTP server needs of the job (range queries, their defaults and steps, the
 * format `/api/files/:name/check` tries first): taken from the job's config
 * (job/url-window-config.ts `resultsOf`), passed down as it is, to the HTTP thread and its
 * results reader. Declared here, where the readers are, so the store needs nothing of the job.
 */
export interface JobTiming {
  readonly batchIntervalMs: number;
  readonly windowDurationMs: number;
  /** The name the job's results are stored under (several writers can share a PostgreSQL database). */
  readonly instance: string;
  readonly slideDurationMs?: number | undefined;
  readonly time?: 'processing' | 'event' | undefined;
  readonly history?: boolean | undefined;
  /** A JSON format's `fields.NAME = path`. */
  readonly fields?: Readonly<Record<string, string>> | undefined;
  /** Keys of the default dimension persisted per slide (what `/api/top?n=` reads from the database). */
  readonly topN?: number | undefined;
  readonly logFormat?: string | undefined;
  /** The dimensions' names, in order (`/api/top?by=` takes them). */
  readonly dimensions?: readonly string[] | undefined;
}

/** The job's results, as the HTTP thread reads them: the database (a server's, with `postgres`), and the timing its rows are keyed by. */
export interface JobResults {
  readonly database: string;
  readonly postgres?: PostgresConfig;
  readonly timing: JobTiming;
}
