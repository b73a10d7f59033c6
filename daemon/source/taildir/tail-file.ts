import path from 'node:path';
import type { FileIdentity } from '../file-identity.js';
import type { FileStatus } from '../file-registry.js';
import { LineScanner } from '../line-scanner.js';
import type { OpenFile } from '../open-file.js';
import type { FileGroupConfig } from './taildir-config.js';

/**
 * What a followed file is doing:
 *   waiting    found; its first line is not complete yet, so it has no identity (nothing to read)
 *   following  followed under a name its group matches
 *   rotated    renamed to a name no group matches: read to its end, closed once idle
 *   deleted    removed while open: read to its end, closed once idle
 *   closed     idle for idleTimeout under its name: closed, opened again when it grows
 *   copy       a `.gz` copy of a file followed now: its lines are read from that file
 *   done       a `.gz` read to its end (or a copy whose original was read to its end)
 *   unreadable cannot be opened or read (the reason says why); tried again when it changes
 */
export const TAIL_STATES = ['waiting', 'following', 'rotated', 'deleted', 'closed', 'copy', 'done', 'unreadable'] as const;
export type TailState = (typeof TAIL_STATES)[number];

/**
 * One file of a TAILDIR source, from the moment a group's name matched it: its identity
 * (device, inode, first-line fingerprint) and key, the offset of the first line not yet
 * taken, and the bytes read past it (a line whose line feed is not written yet).
 *
 * Offsets are bytes of the current epoch (tail-position.ts): a file truncated in place
 * starts a new epoch at 0.
 */
export class TailFile {
  path: string;
  readonly group: FileGroupConfig;
  readonly gzip: boolean;
  dev: number;
  ino: number;
  /** Open while followed (plain files); a `.gz` is opened by path when read. */
  fd: number | undefined;
  identity: FileIdentity | undefined;
  key: string | undefined;
  epoch = 0;
  /** Offset of the first line not yet put into the channel: where a batch put now would resume. */
  readPos = 0;
  /** Offset up to which bytes were read: `readPos` plus the unfinished line held in `carry`. */
  readEnd = 0;
  /** Where following began in this epoch (from the checkpoint, the position file, 0 or the end). */
  startPos = 0;
  /** The unfinished last line (or an over-long line's kept prefix), copied out of its chunk. */
  carry: Buffer = Buffer.alloc(0);
  /** Keeps an over-long line's state between reads. */
  scanner: LineScanner;
  /** Size at the last look. */
  size = 0;
  state: TailState = 'waiting';
  reason: string | undefined;
  /** No longer known to the source (removed, or closed for good). */
  gone = false;
  /** The name changed since it was first followed (logrotate renamed it). */
  renamed = false;
  /** A `.gz` copy: the file (or key) whose lines it holds. */
  copyOf: string | undefined;
  /** A `.gz`: the fingerprint of its decompressed first line, and its trailer's size. */
  gzipFingerprint: string | undefined;
  gzipIsize: number | undefined;
  /** A `.gz`: size and mtime when last looked at (it is looked at again when they change). */
  gzipSeen = '';
  lines = 0;
  truncatedLines = 0;
  /** The scanner's count of cut lines already added to `truncatedLines`. */
  cutsSeen = 0;
  readonly foundAt = Date.now();
  lastReadAt: number | undefined;
  /** When it last grew (or was found): a file idle for idleTimeout is closed. */
  changedAt = Date.now();
  /** For the batcher: the key and path it puts into position headers and messages. */
  #target: OpenFile | undefined;

  constructor(filePath: string, group: FileGroupConfig, st: { dev: number; ino: number; size: number }, maxLineLength: number) {
    this.path = filePath;
    this.group = group;
    this.gzip = filePath.endsWith('.gz');
    this.dev = st.dev;
    this.ino = st.ino;
    this.size = st.size;
    this.scanner = new LineScanner(maxLineLength, 16);
  }

  get devIno(): string {
    return `${this.dev}:${this.ino}`;
  }

  /** Bytes written and not yet taken (as of the last look at its size). */
  get lagBytes(): number {
    return Math.max(0, this.size - this.readPos);
  }

  /** Follows from `offset` of `epoch`: nothing carried, a fresh line state. */
  resetAt(epoch: number, offset: number, maxLineLength: number): void {
    this.epoch = epoch;
    this.readPos = offset;
    this.readEnd = offset;
    this.startPos = offset;
    this.carry = Buffer.alloc(0);
    this.scanner = new LineScanner(maxLineLength, 16);
    this.cutsSeen = 0;
    this.#target = undefined;
  }

  /**
   * What the batcher and the UTF-8 repair need of a file (OpenFile, shared with the spool's
   * reader): its key, and a status whose path and line count their messages name.
   */
  target(): OpenFile {
    const key = this.key!;
    let t = this.#target;
    if (!t || t.key !== key || t.status.path !== this.path) {
      const status: FileStatus = {
        name: path.basename(this.path), path: this.path, state: 'reading', size: this.size, bytesRead: this.readPos, lines: this.lines,
        truncatedLines: this.truncatedLines, startedAt: this.foundAt, finishedAt: undefined, reason: undefined, parseErrors: undefined, key,
      };
      t = { status, key, size: Infinity, outstanding: 0, readDone: false, problem: undefined, decodeErrors: t?.decodeErrors ?? 0, fingerprint: undefined, identified: true, olderKey: undefined };
      this.#target = t;
    }
    t.status.lines = this.lines;
    return t;
  }
}
