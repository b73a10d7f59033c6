import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
import os from 'node:os';

/**
 * Which file a file is, whatever its name and however far it has grown: its inode and a
 * hash of its first line. Positions, checkpoints and file records are keyed by it, so a
 * restart finds the position of a file that grew (or, for a tailing source, was renamed)
 * since it was opened, and a new file that reuses a freed inode is not taken for the old one.
 *
 * Why these parts (compare Flume's TAILDIR, which keys by inode, and Vector's file source,
 * which keys by a checksum of the first line):
 * - Nothing that changes as a file is appended to: not its size or mtime (the key of logflow
 *   up to 19a16f9 hashed name|ino|size|mtime, so a file still being written got a new key
 *   after a restart and was read again from its start: issue 22 item 1), nor its name.
 * - The first line, not a fixed number of bytes: a line is emitted (and a position committed)
 *   only once its line feed is read, so while a file has no complete first line nothing of
 *   it is committed, and once it has one, the hash of it never changes. A fixed count of
 *   bytes would change while a short file grows, after its first lines were committed.
 *   A first line longer than `IDENTITY_BYTES` is covered up to there.
 * - Not the device number: it is not stable across a reboot or a remount for LVM
 *   (device-mapper minors are handed out in activation order), NFS, btrfs subvolumes or
 *   overlayfs, and a changed key would read every unfinished file again. A spool is one
 *   directory, on one file system.
 */
export interface FileIdentity {
  readonly ino: number;
  /** SHA-256 (hex) of the first `headBytes` bytes: the first line with its line feed, at most `IDENTITY_BYTES`. */
  readonly head: string;
  readonly headBytes: number;
  /**
   * False while the file has no line feed in its first `IDENTITY_BYTES` and is shorter than
   * that: the head then covers all of it, and changes as it grows (nothing of it is committed
   * yet, see above), so whoever holds the identity takes it again when the file grows.
   */
  readonly settled: boolean;
}

/** The most of a file's first line its identity covers. */
export const IDENTITY_BYTES = 4096;

const LF = 10;

/** The identity of a file from its inode and its first bytes (`start`: up to `IDENTITY_BYTES` of them; all there are if fewer). */
export function identityOf(ino: number, start: Buffer): FileIdentity {
  const lf = start.indexOf(LF);
  const settled = lf >= 0 || start.length >= IDENTITY_BYTES;
  const headBytes = lf >= 0 ? lf + 1 : Math.min(start.length, IDENTITY_BYTES);
  return { ino, head: createHash('sha256').update(start.subarray(0, headBytes)).digest('hex'), headBytes, settled };
}

/** Reads a file's first bytes through `fd` (a position-independent read) and takes its identity. */
export function readIdentity(fd: number, st: { readonly ino: number; readonly size: number }): FileIdentity {
  const buf = Buffer.allocUnsafe(Math.min(st.size, IDENTITY_BYTES));
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, got);
    if (n === 0) break;
    got += n;
  }
  return identityOf(st.ino, buf.subarray(0, got));
}

/**
 * This source's prefix in file keys: the host and the spool directory, so that two sources
 * (or two edges feeding one job) never share a key.
 */
export function sourceIdOf(spoolDir: string): string {
  return createHash('sha1').update(`${os.hostname()}:${spoolDir}`).digest('hex').slice(0, 8);
}

/**
 * A file's key in position headers (`lf.pos`), checkpoints and file records:
 * `<sourceId>-<16 hex digits>` of its identity. 64 bits, so two files of one job collide
 * with odds below 1e-9 even with 100,000 positions held.
 */
export function fileKeyOf(sourceId: string, id: FileIdentity): string {
  return `${sourceId}-${createHash('sha1').update(`${id.ino}|${id.head}`).digest('hex').slice(0, 16)}`;
}

/**
 * The key logflow gave a file up to 19a16f9 (its name, inode, size and mtime when it was
 * opened). Positions written under it by an older version are still found: the source
 * looks a file up under this key when its own has no position (see `FileReader`).
 */
export function olderFileKeyOf(sourceId: string, name: string, st: { readonly ino: number; readonly size: number; readonly mtimeMs: number }): string {
  return `${sourceId}-${createHash('sha1').update(`${name}|${st.ino}|${st.size}|${st.mtimeMs}`).digest('hex').slice(0, 12)}`;
}
