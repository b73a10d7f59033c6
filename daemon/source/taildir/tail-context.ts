import type { Logger } from '../../log.js';
import type { SourcePositions } from '../source-positions.js';
import type { FollowedFiles } from './followed-files.js';
import type { KeyMemory } from './key-memory.js';
import type { TailFile } from './tail-file.js';
import type { TaildirSourceConfig } from './taildir-config.js';

/**
 * What the parts of a TAILDIR source share: its configuration and id, the files it knows,
 * who counts its lines, what it remembers of keys, and the read loop's doors (a file to
 * read, to close, to forget). Only the read loop reads, closes and forgets, so a descriptor is
 * never closed under a read.
 */
export interface TailContext {
  readonly config: TaildirSourceConfig;
  /** Prefix of the source's file keys. */
  readonly sourceId: string;
  readonly log: Logger;
  readonly files: FollowedFiles;
  readonly positions: SourcePositions | undefined;
  readonly memory: KeyMemory;
  /** The file is to be read (or identified) next. */
  markDirty(f: TailFile): void;
  /** The file is to be closed by the read loop. */
  closeLater(f: TailFile): void;
  /** Stops knowing the file now (its key's position remembered). */
  forget(f: TailFile): void;
  /** The file cannot be followed: closed, marked, warned about once. */
  unreadable(f: TailFile, reason: string): void;
  readonly stopping: () => boolean;
}
