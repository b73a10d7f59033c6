import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Where a source's id is kept once made: in its tracker directory, beside the spool's records. */
export const SOURCE_ID_FILE = 'source-id';

/**
 * This source's prefix in file keys (and its subject token on a JetStream cluster), so
 * that two sources (or two edges feeding one job) never share a key: the configured
 * `sourceId`; else the one kept in the tracker directory; else made from the host and
 * the spool directory, and kept there. Kept, it outlives what it was made from: a
 * container's hostname changes with each one, and the same spool may be reached by
 * another path; an edge that came back with another id would publish its files again.
 */
export function sourceIdOf(spoolDir: string, trackerDir?: string, configured?: string): { id: string; kept: boolean } {
  return keptSourceId(spoolDir, trackerDir && path.join(trackerDir, SOURCE_ID_FILE), configured);
}

/**
 * A source's id: `configured`; else the one in `idFile`; else made from the host name and
 * `seed` (the spool directory, a TAILDIR source's position file) and written to `idFile`,
 * so it is made once (`kept`: false when it could not be written, and is made again at
 * each start).
 */
export function keptSourceId(seed: string, idFile?: string, configured?: string): { id: string; kept: boolean } {
  if (configured) return { id: configured, kept: true };
  if (idFile) {
    try {
      const kept = readFileSync(idFile, 'utf8').trim();
      if (SOURCE_ID.test(kept)) return { id: kept, kept: true };
    } catch {
      // Not made yet.
    }
  }
  const id = createHash('sha1').update(`${os.hostname()}:${seed}`).digest('hex').slice(0, 8);
  if (!idFile) return { id, kept: false };
  try {
    mkdirSync(path.dirname(idFile), { recursive: true });
    writeFileSync(idFile, id + '\n');
    return { id, kept: true };
  } catch {
    return { id, kept: false };
  }
}

/** What a `sourceId` may be: it prefixes file keys and is a token of NATS subjects. */
export const SOURCE_ID = /^[A-Za-z0-9_]{1,40}$/;

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
