/**
 * The checkpoint's shapes: what a manifest holds and what a load returns, shared by the
 * store (checkpoint-store.ts) and the readers of older formats (checkpoint-format-v1.ts).
 */

/** What must match between the checkpoint and the configuration for the state to mean anything. */
export interface CheckpointIdentity {
  readonly job: string;
  readonly type: string;
  readonly batchIntervalMs: number;
  readonly windowDurationMs: number;
  readonly time: string;
}

/**
 * The checkpoint formats this code reads; it writes the last. 1 (the first): a file per
 * closed slot and per open batch. 2: segments, each written once by one checkpoint. 3: the
 * same, with counts by dimension (batch-blob.ts version 2; format 2's are URL counts only,
 * read as the url dimension). A logflow that reads up to 2 refuses 3 instead of misreading it.
 */
export const CHECKPOINT_FORMATS = [1, 2, 3] as const;
export const CHECKPOINT_FORMAT = 3;

/** Where a batch's encoded counts are: bytes [at, at + length) of segment `seg`. */
export interface SegmentRef {
  readonly seg: number;
  readonly at: number;
  readonly length: number;
}

/** A batch whose counts are in a segment already, or are handed over to be written. */
export type BatchBytes = { readonly ref: SegmentRef } | { readonly data: Buffer };

/** The small part of the state, rewritten at every checkpoint. */
export interface ManifestState {
  /** Null in event time before the first event. */
  readonly nextToClose: number | null;
  readonly maxEventMs?: number | null;
  readonly pendingParseErrors?: number;
  readonly lastSlot: number | undefined;
  readonly counters: { eventsIn: number; eventsCounted: number; parseErrors: number; duplicates: number; historyOnly?: number; late?: number };
  /** Counters as of the last slide written to the results database (before this checkpoint). */
  readonly visible: { eventsCounted: number; parseErrors: number };
  /** Source positions: file key -> offset of the first line not yet counted. */
  readonly positions: [string, number][];
  /** Per file: key, lines, parse errors, lines counted in the history only, first counted (ms). */
  readonly files?: [string, number, number, number, number][];
  /** Per file parse errors, in checkpoints from before `files`. */
  readonly fileParseErrors?: [string, number][];
  /** Event ids seen, with the slot after which they may be forgotten. */
  readonly seenIds: [string, number][];
  /** Write-ahead-log segments from this one on are not in this state yet. */
  readonly walSeq: number;
  /**
   * The last epoch of history rows this state covers (the results are written before the
   * checkpoint); rows of later epochs are undone at restore. Absent before epochs.
   */
  readonly resultsEpoch?: number;
}

export interface Manifest extends ManifestState {
  readonly format: number;
  readonly identity: CheckpointIdentity;
  readonly seq: number;
  readonly writtenAt: number;
  /** Closed slots in the window: `[slot, total, seg, at, length]`. */
  readonly slots: number[][];
  /** Open batches: `[slot, events, parseErrors, seg, at, length]`. */
  readonly open: number[][];
  /** Segment files named above, by number, with their SHA-1. */
  readonly segments: [number, string][];
}

export interface ClosedSlotState {
  readonly slot: number;
  readonly total: number;
}

export interface OpenBatchState {
  readonly slot: number;
  readonly events: number;
  readonly parseErrors: number;
}

export interface LoadedCheckpoint {
  readonly manifest: ManifestState & { readonly seq: number; readonly writtenAt: number };
  readonly slots: (ClosedSlotState & { data: Buffer; ref: SegmentRef | undefined })[];
  readonly open: (OpenBatchState & { data: Buffer; ref: SegmentRef | undefined })[];
  /** The format it was read from, when older than the one written now. */
  readonly migratedFrom: number | undefined;
}
