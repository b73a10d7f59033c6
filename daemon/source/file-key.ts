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
 * The key the spooling-directory source gave a file before it keyed files by identity: its
 * name, inode, size and mtime when it was opened (a file still being written got another
 * after a restart: issue 22 item 1). Files are keyed by their identity now (file-identity.ts, identityKey); positions an
 * older logflow checkpointed under this key are still found: the source looks a file up under
 * it when its own key has none (FileReader).
 */
export function olderFileKeyOf(sourceId: string, name: string, st: { ino: number; size: number; mtimeMs: number }): string {
  return `${sourceId}-${createHash('sha1').update(`${name}|${st.ino}|${st.size}|${st.mtimeMs}`).digest('hex').slice(0, 12)}`;
}
