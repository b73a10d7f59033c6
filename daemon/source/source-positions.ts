import type { LineCheck } from './format-warning.js';

/** What the source needs from whoever durably counts its events (the job, in-process). */
export interface SourcePositions {
  /** Offset below which the file's lines are durably counted, if any are. */
  committed(fileKey: string): number | undefined;
  /** Every committed position (of every source): a TAILDIR source finds a `.gz` copy's key here, and keys of files gone. */
  committedEntries?(): Iterable<[string, number]>;
  /** The file is finished: its position need not be kept. */
  forget(fileKey: string): void;
  /** Lines of the file that were not access-log lines, for the completion log line. */
  parseErrors?(fileKey: string): number | undefined;
  /** The job's log format and line parser, to show lines of a file that mostly did not parse. */
  readonly lineCheck?: { readonly format: string; readonly parses: LineCheck };
}
