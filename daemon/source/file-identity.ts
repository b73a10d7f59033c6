import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';

/**
 * What a file is, whatever its name: the device and inode it lives on, and a fingerprint of
 * its first line. Never its name (logrotate renames a followed file) nor its size (a followed
 * file grows): a file keeps its identity as it grows and under any name, a new file under a
 * reused name has another inode, and an inode reused after a delete has another first line.
 *
 * The fingerprint covers the first line, its line feed included, or the first
 * `FINGERPRINT_MAX_BYTES` bytes when that line is longer: bytes an appending writer never
 * changes again. Until the first line is complete the file has no identity yet (nothing of
 * it can be read either: a line is taken only once its line feed is written), as Vector's
 * first-line checksum waits for it.
 *
 * Used by the TAILDIR source (source/taildir/) and the spooling-directory source (its file
 * keys: a file still being written when the daemon is killed keeps its key, issue 22 item 1).
 * The spooling-directory source must also key a file that never gets a whole first line
 * (empty, or one line without a line feed): see `provisionalIdentityOf`.
 */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
  /** SHA-256 (hex) of the first line, or of the first FINGERPRINT_MAX_BYTES bytes. */
  readonly fingerprint: string;
}

/** A first line longer than this is fingerprinted by its first this-many bytes. */
export const FINGERPRINT_MAX_BYTES = 1024;
const LF = 10;

/**
 * The fingerprint of a file whose first bytes are `head` (as many as were there, up to
 * FINGERPRINT_MAX_BYTES); undefined while its first line is not complete.
 */
export function fingerprintOf(head: Buffer): string | undefined {
  const lf = head.indexOf(LF);
  const end = lf >= 0 ? Math.min(lf + 1, FINGERPRINT_MAX_BYTES) : head.length >= FINGERPRINT_MAX_BYTES ? FINGERPRINT_MAX_BYTES : -1;
  if (end < 0) return undefined;
  return createHash('sha256').update(head.subarray(0, end)).digest('hex');
}

/** Reads the first bytes of an open file and fingerprints them (synchronous: one small pread). */
export function readFingerprint(fd: number, size: number): string | undefined {
  const want = Math.min(size, FINGERPRINT_MAX_BYTES);
  if (want === 0) return undefined;
  const buf = Buffer.allocUnsafe(want);
  let got = 0;
  while (got < want) {
    const n = readSync(fd, buf, got, want - got, got);
    if (n === 0) break;
    got += n;
  }
  return fingerprintOf(buf.subarray(0, got));
}

/** The identity of an open file (`st` its fstat), or undefined while its first line is incomplete. */
export function identityOf(fd: number, st: { dev: number; ino: number; size: number }): FileIdentity | undefined {
  const fingerprint = readFingerprint(fd, st.size);
  return fingerprint === undefined ? undefined : { dev: st.dev, ino: st.ino, fingerprint };
}

/**
 * The stand-in identity of a file that has no whole first line yet (identityOf is undefined):
 * the fingerprint of all it has (fewer than FINGERPRINT_MAX_BYTES bytes, no line feed), which
 * no complete first line's fingerprint equals (that ends with a line feed, or is
 * FINGERPRINT_MAX_BYTES long). A spooled file that stops growing so is finished under it: its
 * one unterminated line is taken at its end, and a restart finds the same bytes. One that
 * grows is identified again (identityOf) before anything of it was taken, since a line is
 * taken only once its line feed is there: nothing was committed under the stand-in.
 */
export function provisionalIdentityOf(fd: number, st: { dev: number; ino: number; size: number }): FileIdentity {
  const buf = Buffer.allocUnsafe(Math.min(st.size, FINGERPRINT_MAX_BYTES));
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, got);
    if (n === 0) break;
    got += n;
  }
  return { dev: st.dev, ino: st.ino, fingerprint: createHash('sha256').update(buf.subarray(0, got)).digest('hex') };
}

/** Chars of the fingerprint a key shows (so a file's copies are found by it; see identityKey). */
export const FINGERPRINT_TAG_CHARS = 12;

/**
 * A file's key in position headers and checkpoints: `<sourceId>-<hash of dev, ino and
 * fingerprint>.<fingerprint tag>`. The tag lets a compressed copy of the file (its `.gz`
 * rotation, whose inode is new) find the key it continues, from the checkpoint alone.
 */
export function identityKey(sourceId: string, id: FileIdentity): string {
  const hash = createHash('sha1').update(`${id.dev}:${id.ino}:${id.fingerprint}`).digest('hex').slice(0, 12);
  return `${sourceId}-${hash}.${id.fingerprint.slice(0, FINGERPRINT_TAG_CHARS)}`;
}

/** The fingerprint tag of a key made by identityKey (undefined for other keys). */
export function fingerprintTagOf(key: string): string | undefined {
  const dot = key.lastIndexOf('.');
  const tag = dot < 0 ? '' : key.slice(dot + 1);
  return tag.length === FINGERPRINT_TAG_CHARS ? tag : undefined;
}
