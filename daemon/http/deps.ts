import type { Logger } from '../log.js';
import type { OpenedInode } from '../source/spool-open.js';
import type { FollowedView } from '../source/taildir/taildir-source.js';
import type { ResultsQueries } from '../store/results-queries.js';
import type { JobTiming } from '../job/url-window-config.js';
import type { ApiStats, Stats } from '../telemetry/stats.js';
import type { LiveTop, LiveTopQuery } from '../job/live-top.js';

export type { JobTiming };

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
  /** Bytes written to the file after the spool source finished it (not counted); its writer went on. */
  readonly writtenAfterFinish?: number | undefined;
  /** The file the source read; absent for one it refused (only read files are served back). */
  readonly opened?: OpenedInode | undefined;
  /** A completed file's note: how many of its lines were older than the live window (counted in the history only). */
  readonly note?: string | undefined;
}

/** A file a TAILDIR source follows, as /api/followed shows it (the source's own view of it). */
export type FollowedFileView = FollowedView;

export interface HttpDeps {
  /** When set, `/api/*` and `/metrics` want `Authorization: Bearer <token>`. */
  readonly authToken?: string | undefined;
  /**
   * The names the server answers to in the Host header (`*`: any); other names get a 421,
   * so a web page cannot read the API through DNS rebinding. Undefined: no check.
   */
  readonly allowedHosts?: readonly string[] | undefined;
  /** The results: the newest window at once, the history's range queries in query threads (SQLite) or on the server (PostgreSQL). */
  readonly results: ResultsQueries | undefined;
  readonly job: JobTiming | undefined;
  /** Figures the pipeline owns; asked of the main thread when the server runs in its own. */
  readonly stats: () => ApiStats | Promise<ApiStats>;
  readonly files: () => FileView[] | Promise<FileView[]>;
  /** The files TAILDIR sources follow (none without such a source). */
  readonly followed: () => FollowedFileView[] | Promise<FollowedFileView[]>;
  /** The whole stats shape, which /metrics renders. */
  readonly metrics: () => Stats | Promise<Stats>;
  /** The live window's top keys of a dimension and status (the job's own window, asked of its thread). */
  readonly liveTop?: (query: LiveTopQuery) => Promise<LiveTop>;
  readonly logger: Logger;
}
