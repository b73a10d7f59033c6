import { createHash } from 'node:crypto';
import os from 'node:os';

/**
 * This source's prefix in file keys: the host and the spool directory, so that two sources
 * (or two edges feeding one job) never share a key.
 */
export function sourceIdOf(spoolDir: string): string {
  return createHash('sha1').update(`${os.hostname()}:${spoolDir}`).digest('hex').slice(0, 8);
}

/**
 * A file's key in position headers, checkpoints and file records: its name, inode, size and
 * mtime, so a new file under a reused name never resumes from the old one's offset.
 */
export function fileKeyOf(sourceId: string, name: string, st: { ino: number; size: number; mtimeMs: number }): string {
  return `${sourceId}-${createHash('sha1').update(`${name}|${st.ino}|${st.size}|${st.mtimeMs}`).digest('hex').slice(0, 12)}`;
}
