import type { LineCheck } from './format-warning.js';

/** What the job counted of one file, as of its last checkpoint. */
export interface CountedFileFigures {
  readonly lines: number;
  readonly parseErrors: number;
  /** Lines older than the live window: counted in the history only. */
  readonly historyOnly: number;
  /** When the job first counted a line of it (ms). */
  readonly startedMs: number;
}

/** What the source needs from whoever durably counts its events (the job, in-process). */
export interface SourcePositions {
  /** Offset below which the file's lines are durably counted, if any are. */
  committed(fileKey: string): number | undefined;
  /** Every committed position (of every source): a TAILDIR source finds a `.gz` copy's key here, and keys of files gone. */
  committedEntries?(): Iterable<[string, number]>;
  /** The file is finished: its position need not be kept. */
  forget(fileKey: string): void;
  /**
   * What the job counted of the file as of its last checkpoint: a file resumed after a
   * restart reports the whole file's figures, and a finished one its parse errors and
   * lines outside the live window.
   */
  figures?(fileKey: string): CountedFileFigures | undefined;
  /** The job's log format and line parser, to show lines of a file that mostly did not parse. */
  readonly lineCheck?: { readonly format: string; readonly parses: LineCheck };
}
