import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, readlinkSync, realpathSync, statSync, type BigIntStats, type Stats } from 'node:fs';
import path from 'node:path';

/**
 * Opening a spool file without reading anything outside the spool. Anyone who may write to
 * the spool could otherwise drop a symbolic link to a file only the daemon may read
 * (`/etc/shadow`), and read it back through the log or `/api/files/:name/check`.
 *
 * - A name that is a symbolic link is refused, unless `followSymlinks = true`; then its
 *   target must resolve inside one of `symlinkRoots`.
 * - The check and the open are one: the resolved target is opened with `O_NOFOLLOW`, and
 *   the descriptor's own inode (and, on Linux, its path in /proc/self/fd) must be the one
 *   checked. A link re-pointed, or a directory on the way swapped, between the check and the
 *   open is refused, never read.
 * - What was opened is remembered (`OpenedInode`), so a later reader (the mostly-unparsed
 *   samples, `/api/files/:name/check`) opens the same inode or nothing.
 */

/** `followSymlinks` and `symlinkRoots` (real paths) of a spooldir source. */
export interface SymlinkPolicy {
  readonly followSymlinks: boolean;
  readonly symlinkRoots: readonly string[];
}

/** The file the source opened: device and inode (decimal strings: 64-bit values), and the link's target. */
export interface OpenedInode {
  readonly dev: string;
  readonly ino: string;
  /** The real path read, when the spool name was a symbolic link to it. */
  readonly target?: string;
}

export type SpoolOpen =
  | { readonly kind: 'opened'; readonly fd: number; readonly stats: Stats; readonly inode: OpenedInode }
  /** Not opened: why (quarantine the name with this reason). */
  | { readonly kind: 'refused'; readonly reason: string };

const OPEN_FLAGS = fsc.O_RDONLY | fsc.O_NONBLOCK;

/**
 * Opens a spool entry under the policy, non-blocking (a FIFO swapped in cannot hang the
 * source). Throws what `open` throws (ENOENT: gone; EACCES: the caller quarantines it).
 */
export function openSpoolFile(file: string, policy: SymlinkPolicy): SpoolOpen {
  const link = lstatSync(file);
  if (!link.isSymbolicLink()) {
    let fd: number;
    try {
      fd = openSync(file, OPEN_FLAGS | fsc.O_NOFOLLOW);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOOP') return refused('replaced by a symbolic link while it was opened: not followed');
      throw err;
    }
    return checkOpened(fd, file, link, undefined);
  }
  const to = describeLink(file);
  if (!policy.followSymlinks) return refused(`a symbolic link (to ${to}): not followed (followSymlinks = false)`);
  let target: string;
  try {
    target = realpathSync(file);
  } catch (err) {
    return refused(`a symbolic link to ${to}, which does not resolve (${(err as NodeJS.ErrnoException).code})`);
  }
  if (!insideRoots(target, policy.symlinkRoots)) return refused(`a symbolic link to ${target}, outside symlinkRoots (${policy.symlinkRoots.join(', ')}): not followed`);
  const checked = statSync(target);
  let fd: number;
  try {
    fd = openSync(target, OPEN_FLAGS | fsc.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') return refused(`a symbolic link to ${target}, which was replaced by a link while it was opened: not followed`);
    throw err;
  }
  const real = fdPath(fd);
  if (real !== undefined && !insideRoots(real, policy.symlinkRoots)) {
    closeSync(fd);
    return refused(`a symbolic link whose target left symlinkRoots while it was opened (${real}): not read`);
  }
  return checkOpened(fd, file, checked, real ?? target);
}

/**
 * Opens `file` only if it is still the file the source read (`opened`): the same inode,
 * and for a link the same real path. Undefined when it is another file now (replaced, or a
 * link re-pointed); throws what `open` throws.
 */
export function openIfSame(file: string, opened: OpenedInode): number | undefined {
  // A file the source read by its own name is still one, not a link someone put there since.
  const fd = openSync(file, OPEN_FLAGS | (opened.target === undefined ? fsc.O_NOFOLLOW : 0));
  try {
    const st = fstatSync(fd, { bigint: true });
    const real = opened.target === undefined ? undefined : fdPath(fd);
    if (st.dev.toString() === opened.dev && st.ino.toString() === opened.ino && st.isFile() && (real === undefined || real === opened.target)) return fd;
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  closeSync(fd);
  return undefined;
}

/** Whether `real` (a real path) is one of `roots` or below it. */
export function insideRoots(real: string, roots: readonly string[]): boolean {
  return roots.some((root) => real === root || real.startsWith(root.endsWith(path.sep) ? root : root + path.sep));
}

/** The descriptor's path as the kernel knows it (Linux), after every link was followed. */
function fdPath(fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return undefined; // no /proc: the inode comparison alone decides
  }
}

/** The opened descriptor must be the inode checked before the open. */
function checkOpened(fd: number, file: string, checked: Stats, target: string | undefined): SpoolOpen {
  let st: BigIntStats;
  let stats: Stats;
  try {
    st = fstatSync(fd, { bigint: true });
    stats = fstatSync(fd);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  if (stats.ino !== checked.ino || stats.dev !== checked.dev) {
    closeSync(fd);
    return refused(`replaced while it was opened (${path.basename(file)}): not read`);
  }
  const inode: OpenedInode = { dev: st.dev.toString(), ino: st.ino.toString(), ...(target === undefined ? {} : { target }) };
  return { kind: 'opened', fd, stats, inode };
}

function describeLink(file: string): string {
  try {
    return readlinkSync(file);
  } catch {
    return 'an unreadable target';
  }
}

function refused(reason: string): SpoolOpen {
  return { kind: 'refused', reason };
}
