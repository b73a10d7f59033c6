import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, readdirSync, readSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import {
  tailFileDeleted, tailFileFollowed, tailFileRenamed, tailFileStartedOver, tailFileUnreadable, tailHardLinkSkipped, tailKeyForgotten, tailNotRegularFile,
} from '../../telemetry/index.js';
import { identityKey, identityOf, type FileIdentity } from '../file-identity.js';
import { GzipCopies } from './gzip-copies.js';
import type { TailContext } from './tail-context.js';
import { TailFile } from './tail-file.js';
import { epochOf, MAX_EPOCH, offsetOf, positionOf } from './tail-position.js';
import type { FileGroupConfig } from './taildir-config.js';

/** A directory whose mtime is younger than this is listed again at the next look (a change within the mtime's resolution). */
const FRESH_DIR_MS = 2_000;

/**
 * Which files the groups name, and what became of each: found, renamed (the same device and
 * inode under another name), renamed away or deleted (read to its end through its open
 * descriptor), truncated or rewritten (followed again from 0), replaced under its name, a
 * hard link, a symbolic link, a `.gz` (gzip-copies.ts). And where a file starts: the position
 * committed for its key, else the position file at start, else 0 (its end at the first start
 * with skipToEnd). Everything here is synchronous: no file is read meanwhile.
 */
export class TailDiscovery {
  readonly #c: TailContext;
  readonly #copies: GzipCopies;
  /** Directory -> the mtime its last listing is good for (cachePatternMatching). */
  readonly #listed = new Map<string, number>();
  /** Paths warned about once (not regular files, unreadable, hard links). */
  readonly #warned = new Set<string>();
  /** The position file at start: `inode\0path` -> offset. */
  #startPositions = new Map<string, number>();
  #firstStart = false;
  /** During the first scan: the position file and skipToEnd apply to the files found then. */
  #initialScan = false;

  constructor(context: TailContext) {
    this.#c = context;
    this.#copies = new GzipCopies(context, () => this.#skipAtStart());
  }

  get copies(): GzipCopies {
    return this.#copies;
  }

  /**
   * The first scan: files found now may resume from the position file, or (first start,
   * skipToEnd) from their end. The position file names files by inode and path only, and
   * an inode is soon reused after a delete: it is trusted only when nothing else says where
   * this source's files are (no position keeper, as Flume; or a checkpoint that holds no
   * position of this source: a Flume agent replaced, a checkpoint reset).
   */
  scanAtStart(startPositions: Map<string, number>, firstStart: boolean): void {
    const prefix = this.#c.sourceId + '-';
    const kept = this.#c.positions?.committedEntries?.() ?? [];
    let checkpointed = false;
    for (const [key] of kept) if (key.startsWith(prefix)) checkpointed = true;
    this.#startPositions = checkpointed ? new Map() : startPositions;
    this.#firstStart = firstStart;
    this.#initialScan = true;
    try {
      this.scan(true);
    } finally {
      this.#initialScan = false;
    }
  }

  /** Lists every group's directory (when it changed, or `force`), looks at each matching name, then at what became of the others. */
  scan(force: boolean): void {
    const c = this.#c;
    let complete = true;
    for (const dir of new Set(c.config.groups.map((g) => g.dir))) {
      let st: Stats;
      try {
        st = statSync(dir);
      } catch {
        complete = false;
        continue;
      }
      if (!force && c.config.cachePatternMatching && this.#listed.get(dir) === st.mtimeMs) continue;
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        complete = false;
        continue;
      }
      if (Date.now() - st.mtimeMs >= FRESH_DIR_MS) this.#listed.set(dir, st.mtimeMs);
      else this.#listed.delete(dir);
      const seen = new Set<string>();
      for (const name of names) {
        const p = path.join(dir, name);
        if (!this.#groupOf(p)) continue;
        seen.add(p);
        this.examine(p);
      }
      for (const f of c.files.list()) {
        if (path.dirname(f.path) === dir && c.files.named(f) && !seen.has(f.path)) this.examine(f.path);
      }
    }
    this.#copies.reconcile();
    // Only when every directory was listed: a directory unreadable for a moment must not forget its files' positions.
    if (complete && !this.#initialScan) this.#sweep();
  }

  /**
   * Looks at one name (the watcher's hint, or a listing's): what file it names now, and what
   * became of the file it named before.
   */
  examine(p: string): void {
    const c = this.#c;
    if (c.stopping()) return;
    const group = this.#groupOf(p);
    if (!group) return;
    let lst: Stats | undefined;
    try {
      lst = lstatSync(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.warnOnce(p, `cannot be looked at (${(err as NodeJS.ErrnoException).code})`);
    }
    const known = c.files.atPath(p);
    if (!lst || !lst.isFile()) {
      if (known) this.#lostName(known);
      if (lst?.isSymbolicLink()) this.#notRegular(p, 'a symbolic link (not followed: follow the file it names)');
      else if (lst) this.#notRegular(p, lst.isDirectory() ? 'a directory' : lst.isFIFO() ? 'a FIFO' : 'not a regular file');
      return;
    }
    const devIno = `${lst.dev}:${lst.ino}`;
    if (known && known.devIno === devIno) {
      this.#changed(known, lst);
      return;
    }
    if (known) this.#lostName(known);
    const moved = c.files.withDevIno(devIno);
    if (moved && c.files.named(moved) && moved.path !== p && sameFile(moved.path, devIno)) {
      // A second name (hard link) of a file followed under its first: followed once.
      if (!this.#warned.has(p)) {
        this.#warned.add(p);
        tailHardLinkSkipped.emit(c.log, { file: p, followedAs: moved.path });
      }
      return;
    }
    if (moved && (moved.fd !== undefined || moved.gzip)) {
      // The same open file under another name (logrotate's rename), or a .gz renamed.
      this.#renamed(moved, p);
      return;
    }
    if (moved) c.forget(moved); // closed: the inode may be another file's now; looked at afresh
    if (p.endsWith('.gz')) this.#copies.found(p, group, lst);
    else this.#newPlain(p, group);
  }

  /**
   * Starts following a file that has an identity: from the position committed for its key
   * (or where this run left it), else from the position file at start, else from 0 (from its
   * end at the first start with skipToEnd).
   */
  follow(f: TailFile, id: FileIdentity, size: number): void {
    const c = this.#c;
    const key = identityKey(c.sourceId, id);
    const committed = c.positions?.committed(key);
    const remembered = c.memory.get(key);
    const known = committed === undefined ? remembered : remembered === undefined ? committed : Math.max(committed, remembered);
    let epoch = 0;
    let offset = 0;
    let from: string;
    if (known !== undefined) {
      epoch = epochOf(known);
      offset = offsetOf(known);
      from = known === committed ? 'checkpoint' : 'where this run left it';
      if (offset > size) {
        // Truncated while nobody looked (copytruncate during a restart): a new epoch from 0.
        tailFileStartedOver.emit(c.log, { file: f.path, reason: `${size} bytes, fewer than the ${offset} read before: truncated`, unreadBytes: undefined });
        epoch++;
        offset = 0;
        from = 'start (it was truncated)';
      }
    } else {
      const saved = this.#initialScan ? this.#startPositions.get(`${id.ino}\u0000${f.path}`) : undefined;
      if (saved !== undefined && saved <= size && atLineStart(f.fd!, saved)) {
        offset = saved;
        from = 'position file';
      } else if (this.#skipAtStart()) {
        offset = lastLineEnd(f.fd!, size);
        from = 'end (skipToEnd)';
      } else {
        from = 'start';
      }
    }
    if (epoch > MAX_EPOCH) {
      c.unreadable(f, `truncated more than ${MAX_EPOCH} times with the same first line`);
      return;
    }
    f.identity = id;
    f.key = key;
    f.resetAt(epoch, offset, c.config.maxLineLength);
    f.size = size;
    if (f.state !== 'rotated' && f.state !== 'deleted') f.state = 'following';
    f.reason = undefined;
    f.changedAt = Date.now();
    tailFileFollowed.emit(c.log, { file: f.path, from, resumeAt: offset, size, epoch: epoch || undefined });
    c.markDirty(f);
  }

  /** A file whose first line was not complete: followed once it is. */
  identify(f: TailFile): void {
    const st = fstatSync(f.fd!);
    f.size = st.size;
    const id = identityOf(f.fd!, st);
    if (id) this.follow(f, id, st.size);
  }

  /** Truncated or rewritten in place: the old content is gone; followed again from 0 under the identity it has now. */
  startOver(f: TailFile, reason: string, size: number): void {
    const c = this.#c;
    tailFileStartedOver.emit(c.log, { file: f.path, reason, unreadBytes: f.carry.length || undefined });
    // Seen again with the same first line, the key goes on in a new epoch.
    c.memory.remember(f.key!, positionOf(f.epoch + 1, 0));
    f.identity = undefined;
    f.key = undefined;
    f.resetAt(0, 0, c.config.maxLineLength);
    const id = identityOf(f.fd!, { dev: f.dev, ino: f.ino, size });
    if (id) this.follow(f, id, size);
    else {
      f.state = 'waiting';
      f.reason = 'truncated; its first line is not complete yet';
    }
  }

  warnOnce(p: string, reason: string): void {
    if (this.#warned.has(p)) return;
    this.#warned.add(p);
    tailFileUnreadable.emit(this.#c.log, { file: p, reason });
  }

  #skipAtStart(): boolean {
    return this.#initialScan && this.#firstStart && this.#c.config.skipToEnd;
  }

  #groupOf(p: string): FileGroupConfig | undefined {
    const dir = path.dirname(p);
    const name = path.basename(p);
    return this.#c.config.groups.find((g) => g.dir === dir && g.pattern.test(name));
  }

  /** A known name's file changed (or was hinted at): read, identify or look at it again. */
  #changed(f: TailFile, lst: Stats): void {
    if (f.gzip) {
      if (f.gzipSeen !== `${lst.size}:${lst.mtimeMs}`) this.#copies.lookAt(f, lst);
      return;
    }
    if (f.state === 'closed' || f.state === 'unreadable') {
      if (lst.size !== f.readEnd || f.state === 'unreadable') this.#reopen(f);
      return;
    }
    this.#c.markDirty(f);
  }

  #newPlain(p: string, group: FileGroupConfig): void {
    const c = this.#c;
    let fd: number;
    try {
      fd = openSync(p, fsc.O_RDONLY | fsc.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.warnOnce(p, `cannot be opened (${(err as NodeJS.ErrnoException).code})`);
      return;
    }
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      return;
    }
    const f = new TailFile(p, group, st, c.config.maxLineLength);
    f.fd = fd;
    c.files.add(f);
    this.#warned.delete(p);
    const id = identityOf(fd, st);
    if (id) this.follow(f, id, st.size);
    else f.reason = 'its first line is not complete yet';
  }

  /** The file is known under a new name now (logrotate's rename, or renamed back). */
  #renamed(f: TailFile, to: string): void {
    const c = this.#c;
    const from = f.path;
    c.files.rename(f, to);
    f.renamed = true;
    if (f.gzip) return;
    if (f.state === 'rotated' || f.state === 'deleted') f.state = f.key ? 'following' : 'waiting';
    f.reason = `renamed from ${path.basename(from)}`;
    tailFileRenamed.emit(c.log, { file: from, renamedTo: to });
    c.markDirty(f);
  }

  /** Its name no longer names it: renamed away or deleted. An open file is read to its end and closed once idle. */
  #lostName(f: TailFile): void {
    const c = this.#c;
    c.files.unname(f);
    if (f.gzip || f.fd === undefined) {
      c.forget(f);
      return;
    }
    if (!f.key) {
      c.closeLater(f);
      return;
    }
    let nlink = 0;
    try {
      nlink = fstatSync(f.fd).nlink;
    } catch {
      // (closed meanwhile)
    }
    if (nlink === 0) {
      f.state = 'deleted';
      f.reason = 'deleted: read to its end, closed once idle';
      tailFileDeleted.emit(c.log, { file: f.path });
    } else {
      f.state = 'rotated';
      f.reason = 'renamed to a name no file group matches: read to its end, closed once idle';
      tailFileRenamed.emit(c.log, { file: f.path, renamedTo: undefined });
    }
    c.markDirty(f);
  }

  /** A followed file's descriptor says it was deleted (an unlink the watch did not report). */
  deletedUnderName(f: TailFile): void {
    if (this.#c.files.named(f)) this.#lostName(f);
  }

  /** A closed file grew (or an unreadable one changed): opened again, if it is still the same file. */
  #reopen(f: TailFile): void {
    const c = this.#c;
    let fd: number;
    try {
      fd = openSync(f.path, fsc.O_RDONLY | fsc.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') c.forget(f);
      else c.unreadable(f, `cannot be opened (${(err as NodeJS.ErrnoException).code})`);
      return;
    }
    const st = fstatSync(fd);
    if (`${st.dev}:${st.ino}` !== f.devIno || !st.isFile()) {
      closeSync(fd);
      const p = f.path;
      c.forget(f);
      this.examine(p);
      return;
    }
    f.fd = fd;
    f.size = st.size;
    // A changed first line is found by the read (`rewritten`), which follows it again from its start.
    f.state = f.identity ? 'following' : 'waiting';
    f.reason = undefined;
    f.changedAt = Date.now();
    c.markDirty(f);
  }

  #notRegular(p: string, kind: string): void {
    if (this.#warned.has(p)) return;
    this.#warned.add(p);
    tailNotRegularFile.emit(this.#c.log, { file: p, kind });
  }

  #sweep(): void {
    const c = this.#c;
    const entries = c.positions?.committedEntries?.();
    if (!entries) return;
    const referenced = new Set<string>();
    for (const f of c.files) if (f.key) referenced.add(f.key);
    c.memory.sweep(entries, c.sourceId + '-', referenced, (key, position) => {
      c.positions!.forget(key);
      tailKeyForgotten.emit(c.log, { key, position });
    });
  }
}

/** Whether `p` still names the file `devIno` (false when it names nothing or another file). */
function sameFile(p: string, devIno: string): boolean {
  try {
    const st = lstatSync(p);
    return `${st.dev}:${st.ino}` === devIno;
  } catch {
    return false;
  }
}

/** Whether `offset` is where a line starts (0, or just after a line feed): a position of another file rarely is. */
function atLineStart(fd: number, offset: number): boolean {
  if (offset === 0) return true;
  const b = Buffer.alloc(1);
  return readSync(fd, b, 0, 1, offset - 1) === 1 && b[0] === 10;
}

/** The offset after the file's last line feed (where following from its end starts: an unfinished last line is read whole). */
function lastLineEnd(fd: number, size: number): number {
  const step = 64 * 1024;
  const buf = Buffer.allocUnsafe(step);
  for (let end = size; end > 0; end -= step) {
    const start = Math.max(0, end - step);
    const n = readSync(fd, buf, 0, end - start, start);
    const lf = buf.subarray(0, n).lastIndexOf(10);
    if (lf >= 0) return start + lf + 1;
  }
  return 0;
}
