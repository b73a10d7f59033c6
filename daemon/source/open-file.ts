import type { FileStatus } from './file-registry.js';
import type { Fingerprint } from './fingerprint.js';
import { LogflowError } from '../errors.js';

/**
 * A file from the moment it is opened until it is finished: what the reader, the batcher,
 * the charset repair and the finisher share. One object per file, so the hot path touches
 * plain fields, never a map lookup per chunk.
 */
export interface OpenFile {
  readonly status: FileStatus;
  /** Its key in positions and records, from its identity (see file-identity.ts). */
  key: string;
  /** False while it has no whole first line (keyed by its provisional identity): identified again as it grows. */
  identified: boolean;
  /**
   * The key an older logflow gave it, when its position was found under that one (a
   * checkpoint written before the upgrade): counted up to there, and forgotten with the file.
   */
  readonly olderKey: string | undefined;
  /** Bytes to count (decompressed for gzip: known at the end of reading). */
  size: number;
  /** Batches put into the channel and not yet delivered downstream. */
  outstanding: number;
  readDone: boolean;
  /** Why the file ends as failed (e.g. it changed while read); set once its read part is counted. */
  problem: string | undefined;
  /** Lines with invalid UTF-8 that were repaired (decodeErrorPolicy REPLACE or IGNORE). */
  decodeErrors: number;
  /** Its content's fingerprint, recorded when it completes (`fileIdentity = content`). */
  fingerprint: Fingerprint | undefined;
}

/** Thrown out of a read when the source stops: the file goes back to pending, to be resumed. */
export class SourceStopped extends LogflowError {
  constructor() {
    super('LF_STOPPED', 'the source is stopping');
  }
}
