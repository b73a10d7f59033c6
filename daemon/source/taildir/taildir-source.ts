import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, promises as fsp, readdirSync, readSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { Channel } from '../../channel/index.js';
import type { Logger } from '../../log.js';
import { ChunkPool } from '../chunk-pool.js';
import { EventBatcher } from '../event-batcher.js';
import { fingerprintTagOf, identityKey, identityOf, type FileIdentity } from '../file-identity.js';
import { sourceIdOf } from '../file-key.js';
import type { SourcePositions } from '../source-positions.js';
import {
  tailCopyContinued, tailCopySkipped, tailFileClosed, tailFileDeleted, tailFileFollowed, tailFileRenamed, tailFileStartedOver,
  tailFileUnreadable, tailFollowing, tailGzipRead, tailHardLinkSkipped, tailKeyForgotten, tailLastLineTaken, tailNotRegularFile, tailPositionFileUnreadable,
  tailPositionWriteFailed, tailReadFailed,
} from '../../telemetry/index.js';
import { FollowedFiles } from './followed-files.js';
import { readGzipHead } from './gzip-head.js';
import { readPositionFile, writePositionFile, type PositionEntry } from './position-file.js';
import { TailFile, type TailState } from './tail-file.js';
import { epochOf, MAX_EPOCH, offsetOf, positionOf } from './tail-position.js';
import { TailReader } from './tail-reader.js';
import { TailWatcher } from './tail-watcher.js';
import type { FileGroupConfig, TaildirSourceConfig } from './taildir-config.js';

const CHUNK_BYTES = 1 << 20;
/**
 * After a look that found new lines, the file is looked at again this much later: chokidar
 * drops the `change` events of a file that come within 50 ms of the one it reported, so an
 * append right after another would otherwise wait for the next poll.
 */
const RECHECK_MS = 60;
/** A directory whose mtime is younger than this is listed again at the next poll (a change within the mtime's resolution). */
const FRESH_DIR_MS = 2_000;
/** Positions of files this run stopped following, kept in memory (the newest this many). */
const MAX_TOMBSTONES = 10_000;

/** A followed file as `/api/followed`, `logflow status` and the dashboard show it. */
export interface FollowedView {
  readonly path: string;
  readonly group: string;
  readonly source: string;
  readonly state: TailState;
  readonly inode: number;
  readonly key: string | undefined;
  /** Offset of the first line not yet taken (bytes, in the current epoch). */
  readonly position: number;
  /** Offset below which the lines are durably counted (the job's checkpoint), when known. */
  readonly committed: number | undefined;
  /** Size at the last look (a look every pollDelay at most). */
  readonly size: number;
  /** Bytes written and not taken yet. */
  readonly lagBytes: number;
  readonly epoch: number;
  readonly lines: number;
  readonly truncatedLines: number;
  readonly parseErrors: number | undefined;
  readonly foundAt: number;
  readonly lastReadAt: number | undefined;
  readonly reason: string | undefined;
}

/** A start-up failure that a setting of this source causes (agent.ts names the key). */
export class TaildirSettingError extends Error {
  readonly setting: 'positionFile' | `filegroups.${string}`;
  constructor(setting: 'positionFile' | `filegroups.${string}`, message: string) {
    super(message);
    this.setting = setting;
  }
}

/**
 * Flume's TAILDIR source: follows the files of its file groups as they are written, each
 * line an event once its line feed is written, across renames (logrotate's default), files
 * truncated in place (copytruncate), files deleted while written, and their `.gz` copies.
 *
 * A file is known by its device, inode and first line (file-identity.ts), never by name or
 * size, and every batch carries its key and position (`lf.pos`). With the job in this
 * process (or a file channel), what decides where a file resumes after a restart, a crash
 * included, is the position committed with the counts; Flume's JSON position file is written
 * too (atomically), for Flume's tools and a look, and read only for a file the checkpoint has
 * no position for (a Flume agent replaced by this one). So a kill -9 at any moment neither
 * loses nor doubles a line, even between a rotation and the next position write.
 *
 * This class finds files, tells what became of them and schedules reads; its parts:
 *   TailWatcher     chokidar's hints (polling here is the fallback)
 *   TailReader      new bytes to lines to channel batches (the spool's scanner and batcher)
 *   FollowedFiles   the files by name and by device+inode
 *   position-file   Flume's JSON
 */
export class TaildirSource {
  readonly name: string;
  readonly #config: TaildirSourceConfig;
  readonly #log: Logger;
  readonly #sourceId: string;
  readonly #positions: SourcePositions | undefined;
  readonly #batcher: EventBatcher;
  readonly #reader: TailReader;
  readonly #watcher: TailWatcher;
  readonly #files = new FollowedFiles();
  /** Files to read (or close, or identify) next, in the order they asked. */
  readonly #dirty = new Set<TailFile>();
  readonly #recheck = new Set<TailFile>();
  /** Files to close: idle (or left for good) and to be closed by the read loop, never under a read. */
  readonly #toClose = new Set<TailFile>();
  /** Positions of keys this run stopped following (a file closed, truncated, forgotten): a key seen again continues there. */
  readonly #tombstones = new Map<string, number>();
  /** Committed keys of this source no file referred to at the last sweep: forgotten if still so at the next. */
  #unreferenced = new Set<string>();
  /** Directory -> the mtime its last listing is good for (cachePatternMatching). */
  readonly #listed = new Map<string, number>();
  /** Paths warned about once (not regular files, unreadable). */
  readonly #warned = new Set<string>();
  /** The position file at start: `inode\0path` -> offset. */
  #startPositions = new Map<string, number>();
  #firstStart = false;
  /** During the first scan: the position file and skipToEnd apply to the files found then. */
  #initialScan = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> = Promise.resolve();
  #pollTimer: NodeJS.Timeout | undefined;
  #recheckTimer: NodeJS.Timeout | undefined;
  #positionTimer: NodeJS.Timeout | undefined;
  #polling = false;
  #writing: Promise<void> | undefined;
  #writeAgain = false;
  #stopping = false;

  /**
   * `positions`: who durably counts this source's lines (the job in this process, or a file
   * channel); without, positions are what was put into the channel, as Flume's.
   */
  constructor(config: TaildirSourceConfig, channel: Channel, logger: Logger, positions?: SourcePositions) {
    this.name = config.name;
    this.#config = config;
    this.#log = logger.child({ source: config.name });
    this.#sourceId = sourceIdOf(`taildir:${config.positionFile}`);
    this.#positions = positions;
    this.#batcher = new EventBatcher({
      batchSize: config.batchSize,
      inputCharset: 'utf-8',
      decodeErrorPolicy: config.decodeErrorPolicy,
      interceptors: config.interceptors,
      // Headers are set per file group by the reader (fileHeader, headers.<group>.*).
      fileHeader: false,
      fileHeaderKey: config.fileHeaderKey,
      basenameHeader: false,
      basenameHeaderKey: 'basename',
    }, channel, this.#log);
    this.#reader = new TailReader({
      chunks: new ChunkPool(Math.max(CHUNK_BYTES, config.maxLineLength * 2 + 4096)),
      batcher: this.#batcher,
      batchSize: Math.min(config.batchSize, channel.transactionCapacity),
      fileHeader: config.fileHeader,
      fileHeaderKey: config.fileHeaderKey,
    });
    this.#watcher = new TailWatcher(config.groups, (p) => this.#examine(p), this.#log);
  }

  /** Prefix of this source's file keys in position headers. */
  get sourceId(): string {
    return this.#sourceId;
  }

  get eventsRead(): number {
    return this.#batcher.eventsRead;
  }

  get truncatedLines(): number {
    return this.#reader.truncatedLines;
  }

  /** Files followed now, and the bytes written to them not yet taken. */
  followedCounts(): { files: number; lagBytes: number } {
    let files = 0;
    let lagBytes = 0;
    for (const f of this.#files) {
      if (f.gzip) continue;
      files++;
      if (f.key) lagBytes += f.lagBytes;
    }
    return { files, lagBytes };
  }

  followedList(): FollowedView[] {
    return this.#files.list().map((f) => ({
      path: f.path,
      group: f.group.name,
      source: this.name,
      state: f.state,
      inode: f.ino,
      key: f.key,
      position: f.readPos,
      committed: f.key ? this.#committedOffset(f) : undefined,
      size: f.size,
      lagBytes: f.key ? f.lagBytes : 0,
      epoch: f.epoch,
      lines: f.lines,
      truncatedLines: f.truncatedLines,
      parseErrors: f.key ? this.#positions?.parseErrors?.(f.key) : undefined,
      foundAt: f.foundAt,
      lastReadAt: f.lastReadAt,
      reason: f.reason,
    }));
  }

  async start(): Promise<void> {
    const c = this.#config;
    try {
      await fsp.mkdir(path.dirname(c.positionFile), { recursive: true });
      await fsp.access(path.dirname(c.positionFile), fsc.R_OK | fsc.W_OK);
    } catch (err) {
      throw new TaildirSettingError('positionFile', `${path.dirname(c.positionFile)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}: the daemon writes the position file there`);
    }
    for (const g of c.groups) {
      try {
        const st = await fsp.stat(g.dir);
        if (!st.isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
        await fsp.access(g.dir, fsc.R_OK | fsc.X_OK);
      } catch (err) {
        throw new TaildirSettingError(`filegroups.${g.name}`, `${g.dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}: the directory of the file group must exist and be readable`);
      }
    }
    const read = readPositionFile(c.positionFile);
    this.#firstStart = read.kind === 'missing';
    if (read.kind === 'unreadable') tailPositionFileUnreadable.emit(this.#log, { file: c.positionFile, reason: read.reason });
    if (read.kind === 'read') this.#startPositions = new Map(read.entries.map((e) => [`${e.inode}\u0000${e.file}`, e.pos]));
    this.#initialScan = true;
    this.#scan(true);
    this.#initialScan = false;
    // Now, before anything is read: the positions skipToEnd chose hold from here on.
    await this.#writePositions();
    if (c.watch) {
      await this.#watcher.start();
      // What was created while the watcher started.
      this.#scan(true);
    }
    this.#loop = this.#readLoop();
    this.#pollTimer = setInterval(() => void this.#poll(), c.pollDelayMs);
    this.#positionTimer = setInterval(() => void this.#writePositions(), c.writePosIntervalMs);
    tailFollowing.emit(this.#log, {
      groups: c.groups.map((g) => g.spec),
      files: this.followedCounts().files,
      positionFile: c.positionFile,
    });
  }

  /** Stops watching and reading; what was read stays in the channel. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#pollTimer);
    clearInterval(this.#positionTimer);
    clearTimeout(this.#recheckTimer);
    await this.#watcher.close();
    this.#wake?.();
    await this.#loop;
  }

  /** After the job's last checkpoint: the position file says what it committed; files are closed. */
  async close(): Promise<void> {
    await this.#writePositions();
    for (const f of this.#files) this.#closeFd(f);
  }

  // ---- finding files -------------------------------------------------------------------

  /** Lists every group's directory (when it changed, or `force`), looks at each matching name, then at what became of the others. */
  #scan(force: boolean): void {
    let complete = true;
    for (const dir of new Set(this.#config.groups.map((g) => g.dir))) {
      let st: Stats;
      try {
        st = statSync(dir);
      } catch {
        complete = false;
        continue;
      }
      if (!force && this.#config.cachePatternMatching && this.#listed.get(dir) === st.mtimeMs) continue;
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        complete = false;
        continue;
      }
      // An mtime this young may change again within its resolution: listed again next time.
      if (Date.now() - st.mtimeMs >= FRESH_DIR_MS) this.#listed.set(dir, st.mtimeMs);
      else this.#listed.delete(dir);
      const seen = new Set<string>();
      for (const name of names) {
        const p = path.join(dir, name);
        if (!this.#groupOf(p)) continue;
        seen.add(p);
        this.#examine(p);
      }
      for (const f of this.#files.list()) {
        if (path.dirname(f.path) === dir && this.#files.named(f) && !seen.has(f.path)) this.#examine(f.path);
      }
    }
    this.#reconcileCopies();
    if (complete && !this.#initialScan) this.#sweep();
  }

  #groupOf(p: string): FileGroupConfig | undefined {
    const dir = path.dirname(p);
    const name = path.basename(p);
    return this.#config.groups.find((g) => g.dir === dir && g.pattern.test(name));
  }

  /**
   * Looks at one name (the watcher's hint, or a listing's): what file it names now, and what
   * became of the file it named before. Synchronous, so nothing reads a file meanwhile.
   */
  #examine(p: string): void {
    if (this.#stopping) return;
    const group = this.#groupOf(p);
    if (!group) return;
    let lst: Stats | undefined;
    try {
      lst = lstatSync(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#warnOnce(p, `cannot be looked at (${(err as NodeJS.ErrnoException).code})`);
    }
    const known = this.#files.atPath(p);
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
    const moved = this.#files.withDevIno(devIno);
    if (moved && this.#files.named(moved) && moved.path !== p && sameFile(moved.path, devIno)) {
      // A second name (hard link) of a file followed under its first: followed once.
      if (!this.#warned.has(p)) {
        this.#warned.add(p);
        tailHardLinkSkipped.emit(this.#log, { file: p, followedAs: moved.path });
      }
      return;
    }
    if (moved && (moved.fd !== undefined || moved.gzip)) {
      // The same open file under another name (logrotate's rename), or a .gz renamed.
      this.#renamed(moved, p);
      return;
    }
    if (moved) this.#forgetFile(moved); // closed: the inode may be another file's now; looked at afresh
    if (p.endsWith('.gz')) this.#newGzip(p, group, lst);
    else this.#newPlain(p, group);
  }

  /** A known name's file changed (or was hinted at): read, identify or look at it again. */
  #changed(f: TailFile, lst: Stats): void {
    if (f.gzip) {
      if (f.gzipSeen !== `${lst.size}:${lst.mtimeMs}`) this.#lookAtGzip(f, lst);
      return;
    }
    if (f.state === 'closed' || f.state === 'unreadable') {
      if (lst.size !== f.readEnd || f.state === 'unreadable') this.#reopen(f);
      return;
    }
    this.#markDirty(f);
  }

  #newPlain(p: string, group: FileGroupConfig): void {
    let fd: number;
    try {
      fd = openSync(p, fsc.O_RDONLY | fsc.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      this.#warnOnce(p, `cannot be opened (${(err as NodeJS.ErrnoException).code})`);
      return;
    }
    const st = fstatSync(fd);
    if (!st.isFile()) {
      closeSync(fd);
      return;
    }
    const f = new TailFile(p, group, st, this.#config.maxLineLength);
    f.fd = fd;
    this.#files.add(f);
    this.#warned.delete(p);
    const id = identityOf(fd, st);
    if (id) this.#follow(f, id, st.size);
    else f.reason = 'its first line is not complete yet';
  }

  /**
   * Starts following a file that has an identity: from the position committed for its key
   * (or, in this run, where it was left), else from the position file at start, else from 0
   * (from its end at the first start with skipToEnd).
   */
  #follow(f: TailFile, id: FileIdentity, size: number): void {
    const key = identityKey(this.#sourceId, id);
    const committed = this.#positions?.committed(key);
    const tomb = this.#tombstones.get(key);
    const known = committed === undefined ? tomb : tomb === undefined ? committed : Math.max(committed, tomb);
    let epoch = 0;
    let offset = 0;
    let from: string;
    if (known !== undefined) {
      epoch = epochOf(known);
      offset = offsetOf(known);
      from = known === committed ? 'checkpoint' : 'where this run left it';
      if (offset > size) {
        // Truncated while nobody looked (copytruncate during a restart): a new epoch from 0.
        tailFileStartedOver.emit(this.#log, { file: f.path, reason: `${size} bytes, fewer than the ${offset} read before: truncated`, unreadBytes: undefined });
        epoch++;
        offset = 0;
        from = 'start (it was truncated)';
      }
    } else {
      const saved = this.#initialScan ? this.#startPositions.get(`${id.ino}\u0000${f.path}`) : undefined;
      if (saved !== undefined && saved <= size) {
        offset = saved;
        from = 'position file';
      } else if (this.#initialScan && this.#firstStart && this.#config.skipToEnd) {
        offset = lastLineEnd(f.fd!, size);
        from = 'end (skipToEnd)';
      } else {
        from = 'start';
      }
    }
    if (epoch > MAX_EPOCH) {
      this.#unreadable(f, `truncated more than ${MAX_EPOCH} times with the same first line`);
      return;
    }
    f.identity = id;
    f.key = key;
    f.resetAt(epoch, offset, this.#config.maxLineLength);
    f.size = size;
    if (f.state !== 'rotated' && f.state !== 'deleted') f.state = 'following';
    f.reason = undefined;
    f.changedAt = Date.now();
    tailFileFollowed.emit(this.#log, { file: f.path, from, resumeAt: offset, size, epoch: epoch || undefined });
    this.#markDirty(f);
  }

  /** The file is known under a new name now (logrotate's rename, or renamed back). */
  #renamed(f: TailFile, to: string): void {
    const from = f.path;
    this.#files.rename(f, to);
    f.renamed = true;
    if (f.gzip) return;
    if (f.state === 'rotated' || f.state === 'deleted') f.state = f.key ? 'following' : 'waiting';
    f.reason = `renamed from ${path.basename(from)}`;
    tailFileRenamed.emit(this.#log, { file: from, renamedTo: to });
    this.#markDirty(f);
  }

  /** Its name no longer names it: renamed away or deleted. An open file is read to its end and closed once idle. */
  #lostName(f: TailFile): void {
    this.#files.unname(f);
    if (f.gzip || f.fd === undefined) {
      this.#forgetFile(f);
      return;
    }
    if (!f.key) {
      this.#toClose.add(f);
      this.#markDirty(f);
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
      tailFileDeleted.emit(this.#log, { file: f.path });
    } else {
      f.state = 'rotated';
      f.reason = 'renamed to a name no file group matches: read to its end, closed once idle';
      tailFileRenamed.emit(this.#log, { file: f.path, renamedTo: undefined });
    }
    this.#markDirty(f);
  }

  /** A closed file grew (or an unreadable one changed): opened again, if it is still the same file. */
  #reopen(f: TailFile): void {
    let fd: number;
    try {
      fd = openSync(f.path, fsc.O_RDONLY | fsc.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.#forgetFile(f);
      else this.#unreadable(f, `cannot be opened (${(err as NodeJS.ErrnoException).code})`);
      return;
    }
    const st = fstatSync(fd);
    if (`${st.dev}:${st.ino}` !== f.devIno || !st.isFile()) {
      closeSync(fd);
      const p = f.path;
      this.#forgetFile(f);
      this.#examine(p);
      return;
    }
    f.fd = fd;
    f.size = st.size;
    if (f.identity) {
      f.state = 'following';
      f.reason = undefined;
      // A changed first line is found by the read (`rewritten`), which follows it again from its start.
    } else {
      f.state = 'waiting';
    }
    f.changedAt = Date.now();
    this.#markDirty(f);
  }

  // ---- .gz files: a followed file's compressed rotation, or a log of its own ------------

  #newGzip(p: string, group: FileGroupConfig, lst: Stats): void {
    const f = new TailFile(p, group, lst, this.#config.maxLineLength);
    this.#files.add(f);
    this.#lookAtGzip(f, lst);
  }

  /** Reads the `.gz` file's head: until its first line inflates, it waits (gzip may be writing it). */
  #lookAtGzip(f: TailFile, lst: Stats): void {
    f.gzipSeen = `${lst.size}:${lst.mtimeMs}`;
    f.size = lst.size;
    let head;
    try {
      head = readGzipHead(f.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.#forgetFile(f);
      else this.#unreadable(f, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      return;
    }
    f.gzipIsize = head.isize;
    if (head.fingerprint === undefined) {
      f.state = 'waiting';
      f.reason = 'its first line does not inflate yet (still being written, or not gzip)';
      return;
    }
    // Read partly already (it was incomplete): read on from there, under the key it had.
    if (f.key && f.gzipFingerprint === head.fingerprint && (f.state === 'waiting' || f.state === 'following')) {
      f.state = 'following';
      this.#markDirty(f);
      return;
    }
    f.gzipFingerprint = head.fingerprint;
    this.#placeGzip(f);
  }

  /**
   * What a `.gz` is: a copy of a file followed now (its lines are read there: not read), the
   * continuation of a file counted before (read from that file's position: a rotation
   * compressed while nobody looked), or a log of its own (read from its start).
   */
  #placeGzip(f: TailFile): void {
    const fp = f.gzipFingerprint!;
    const original = this.#files.list().find((o) => !o.gzip && o.identity?.fingerprint === fp);
    if (original) {
      if (f.state !== 'copy' || f.copyOf !== original.path) tailCopySkipped.emit(this.#log, { file: f.path, copyOf: original.path });
      f.state = 'copy';
      f.copyOf = original.path;
      f.key = original.key;
      f.reason = `a compressed copy of ${path.basename(original.path)}, whose lines are read there`;
      return;
    }
    const ownKey = identityKey(this.#sourceId, { dev: f.dev, ino: f.ino, fingerprint: fp });
    let best: { key: string; position: number } | undefined;
    const own = this.#positions?.committed(ownKey) ?? this.#tombstones.get(ownKey);
    if (own !== undefined) best = { key: ownKey, position: own };
    else {
      const tag = fp.slice(0, 12);
      const prefix = this.#sourceId + '-';
      const consider = (key: string, position: number) => {
        if (key.startsWith(prefix) && fingerprintTagOf(key) === tag && (!best || position > best.position)) best = { key, position };
      };
      for (const [key, position] of this.#positions?.committedEntries?.() ?? []) consider(key, position);
      for (const [key, position] of this.#tombstones) consider(key, position);
    }
    const key = best?.key ?? ownKey;
    const epoch = best ? epochOf(best.position) : 0;
    const offset = best ? offsetOf(best.position) : 0;
    f.key = key;
    f.identity = undefined;
    f.resetAt(epoch, offset, this.#config.maxLineLength);
    f.copyOf = undefined;
    if (best && key !== ownKey) {
      // Its trailer says how long it is (modulo 4 GiB): all of it read already, nothing to inflate.
      if (f.gzipIsize !== undefined && f.gzipIsize === offset % 2 ** 32) {
        this.#gzipDone(f, `a compressed copy of lines read before (${offset} bytes)`);
        return;
      }
      tailCopyContinued.emit(this.#log, { file: f.path, resumeAt: offset });
    } else if (!best && this.#initialScan && this.#firstStart && this.#config.skipToEnd) {
      this.#gzipDone(f, 'skipped at the first start (skipToEnd)');
      return;
    }
    f.state = 'following';
    f.reason = undefined;
    this.#markDirty(f);
  }

  #gzipDone(f: TailFile, reason: string): void {
    f.state = 'done';
    f.reason = reason;
  }

  /** Copies whose original is not followed any more are placed again (continued or done). */
  #reconcileCopies(): void {
    for (const f of this.#files) {
      if (f.state !== 'copy') continue;
      const original = this.#files.list().find((o) => !o.gzip && o.identity?.fingerprint === f.gzipFingerprint);
      if (!original) this.#placeGzip(f);
    }
  }

  // ---- reading ------------------------------------------------------------------------

  #markDirty(f: TailFile): void {
    if (this.#stopping) return;
    this.#dirty.add(f);
    this.#wake?.();
  }

  #recheckSoon(f: TailFile): void {
    this.#recheck.add(f);
    this.#recheckTimer ??= setTimeout(() => {
      this.#recheckTimer = undefined;
      for (const r of this.#recheck) this.#markDirty(r);
      this.#recheck.clear();
    }, RECHECK_MS);
  }

  /** One file at a time, in the order they asked; closing happens here too, never under a read. */
  async #readLoop(): Promise<void> {
    while (!this.#stopping) {
      if (this.#dirty.size === 0) {
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      for (const f of this.#dirty) {
        this.#dirty.delete(f);
        if (this.#stopping) break;
        try {
          await this.#readOne(f);
        } catch (err) {
          tailReadFailed.emit(this.#log, { file: f.path, err });
          this.#unreadable(f, `reading failed: ${(err as Error).message}`);
        }
      }
    }
  }

  async #readOne(f: TailFile): Promise<void> {
    if (f.gone) return;
    if (f.gzip) {
      if (f.state === 'following') await this.#readGzip(f);
      return;
    }
    if (f.fd === undefined) return;
    if (!f.key) {
      if (this.#toClose.delete(f)) {
        this.#forgetFile(f);
        return;
      }
      const st = fstatSync(f.fd);
      f.size = st.size;
      const id = identityOf(f.fd, st);
      if (id) this.#follow(f, id, st.size);
      return;
    }
    const out = await this.#reader.readNew(f, this.#config.maxBatchCount);
    if (out.kind === 'read') {
      f.changedAt = Date.now();
      if (out.more) this.#markDirty(f);
      else this.#recheckSoon(f);
    } else if (out.kind === 'shrank') {
      this.#startOver(f, `shrank to ${out.size} bytes from at least ${f.readEnd} (copytruncate?)`, out.size);
    } else if (out.kind === 'rewritten') {
      this.#startOver(f, 'its first line changed (truncated and written again?)', out.size);
    }
    // Closed only when this look found nothing new (it may have grown since it was found idle).
    if (this.#toClose.delete(f) && out.kind === 'none') await this.#closeIdle(f);
  }

  /** Truncated or rewritten in place: the old content is gone; followed again from 0 under the identity it has now. */
  #startOver(f: TailFile, reason: string, size: number): void {
    tailFileStartedOver.emit(this.#log, { file: f.path, reason, unreadBytes: f.carry.length || undefined });
    // Seen again with the same first line, the key goes on in a new epoch.
    this.#tombstone(f.key!, positionOf(f.epoch + 1, 0));
    f.identity = undefined;
    f.key = undefined;
    f.resetAt(0, 0, this.#config.maxLineLength);
    const id = identityOf(f.fd!, { dev: f.dev, ino: f.ino, size });
    if (id) this.#follow(f, id, size);
    else {
      f.state = 'waiting';
      f.reason = 'truncated; its first line is not complete yet';
    }
  }

  async #readGzip(f: TailFile): Promise<void> {
    try {
      await this.#reader.readGzip(f);
    } catch (err) {
      const message = (err as Error).message;
      if (/unexpected end of file/i.test(message)) {
        // gzip is still writing it: read on when it changes.
        f.state = 'waiting';
        f.reason = `its gzip stream is not complete yet (${f.readPos} bytes read)`;
        return;
      }
      this.#unreadable(f, `not a readable gzip file: ${message}`);
      return;
    }
    this.#gzipDone(f, `read to its end (${f.readPos} bytes)`);
    tailGzipRead.emit(this.#log, { file: f.path, lines: f.lines, bytes: f.readPos });
  }

  /**
   * Idle for idleTimeout: a file under its name is closed (opened again when it grows); one
   * renamed away or deleted is left for good, its unfinished last line taken as it is.
   */
  async #closeIdle(f: TailFile): Promise<void> {
    if (f.fd === undefined) return;
    const leaving = f.state === 'rotated' || f.state === 'deleted';
    if (leaving || f.renamed) {
      const bytes = await this.#reader.flushLastLine(f);
      if (bytes > 0) tailLastLineTaken.emit(this.#log, { file: f.path, bytes });
    }
    tailFileClosed.emit(this.#log, { file: f.path, position: f.readPos, state: f.state });
    if (leaving) {
      this.#forgetFile(f);
      this.#reconcileCopies();
      return;
    }
    this.#closeFd(f);
    f.state = 'closed';
    f.reason = `idle for ${this.#config.idleTimeoutMs / 1000} s: closed, opened again when it grows`;
  }

  // ---- polling: the fallback for lost hints, idle files, the directories ---------------

  async #poll(): Promise<void> {
    if (this.#polling || this.#stopping) return;
    this.#polling = true;
    try {
      const now = Date.now();
      for (const f of this.#files.list()) {
        if (f.gzip) continue;
        if (f.fd !== undefined) {
          let st: Stats;
          try {
            st = fstatSync(f.fd);
          } catch {
            continue;
          }
          if (st.size !== f.readEnd || (!f.key && st.size !== f.size)) {
            if (st.size > f.readEnd) f.changedAt = now;
            f.size = st.size;
            this.#markDirty(f);
          } else if (f.key && now - f.changedAt >= this.#config.idleTimeoutMs) {
            this.#toClose.add(f);
            this.#markDirty(f);
          }
          if (st.nlink === 0 && this.#files.named(f)) this.#lostName(f);
        } else if (f.state === 'closed' || f.state === 'unreadable') {
          let st: Stats | undefined;
          try {
            st = statSync(f.path);
          } catch {
            st = undefined;
          }
          if (!st || st.size !== f.readEnd || `${st.dev}:${st.ino}` !== f.devIno) this.#examine(f.path);
        }
      }
      this.#scan(false);
    } finally {
      this.#polling = false;
    }
  }

  /**
   * Keys of this source the checkpoint holds that no file refers to any more (its file and
   * copies gone), at two sweeps a poll apart, are forgotten: the checkpoint does not grow with
   * every rotation. Their positions stay in memory for this run.
   */
  #sweep(): void {
    const all = this.#positions?.committedEntries?.();
    if (!all) return;
    const entries = [...all];
    const referenced = new Set<string>();
    for (const f of this.#files) if (f.key) referenced.add(f.key);
    const prefix = this.#sourceId + '-';
    const unreferenced = new Set<string>();
    for (const [key, position] of entries) {
      if (!key.startsWith(prefix) || referenced.has(key)) continue;
      if (this.#unreferenced.has(key)) {
        this.#positions!.forget(key);
        this.#tombstone(key, position);
        tailKeyForgotten.emit(this.#log, { key, position });
      } else unreferenced.add(key);
    }
    this.#unreferenced = unreferenced;
  }

  // ---- small helpers -------------------------------------------------------------------

  #tombstone(key: string, position: number): void {
    const before = this.#tombstones.get(key);
    this.#tombstones.delete(key);
    this.#tombstones.set(key, before === undefined ? position : Math.max(before, position));
    if (this.#tombstones.size > MAX_TOMBSTONES) this.#tombstones.delete(this.#tombstones.keys().next().value!);
  }

  /** Stops knowing the file (its descriptor closed); its key's position is kept for this run. */
  #forgetFile(f: TailFile): void {
    if (f.key && !f.gzip) this.#tombstone(f.key, positionOf(f.epoch, f.readPos));
    f.gone = true;
    this.#closeFd(f);
    this.#files.delete(f);
    this.#dirty.delete(f);
    this.#recheck.delete(f);
    this.#toClose.delete(f);
  }

  #closeFd(f: TailFile): void {
    if (f.fd === undefined) return;
    try {
      closeSync(f.fd);
    } catch {
      // (already closed)
    }
    f.fd = undefined;
  }

  #unreadable(f: TailFile, reason: string): void {
    this.#closeFd(f);
    f.state = 'unreadable';
    f.reason = reason;
    this.#warnOnce(f.path, reason);
  }

  #warnOnce(p: string, reason: string): void {
    if (this.#warned.has(p)) return;
    this.#warned.add(p);
    tailFileUnreadable.emit(this.#log, { file: p, reason });
  }

  #notRegular(p: string, kind: string): void {
    if (this.#warned.has(p)) return;
    this.#warned.add(p);
    tailNotRegularFile.emit(this.#log, { file: p, kind });
  }

  /** Bytes of the file's current epoch durably counted (or, before any is, where following began). */
  #committedOffset(f: TailFile): number {
    if (!this.#positions) return f.readPos;
    const c = this.#positions.committed(f.key!);
    if (c !== undefined && epochOf(c) === f.epoch) return offsetOf(c);
    return f.startPos;
  }

  /** Flume's position file, from the committed positions: written whole, one write at a time. */
  async #writePositions(): Promise<void> {
    if (this.#writing) {
      this.#writeAgain = true;
      return this.#writing;
    }
    const write = async () => {
      do {
        this.#writeAgain = false;
        const entries: PositionEntry[] = [];
        for (const f of this.#files) {
          if (f.gzip || !f.key || !this.#files.named(f) || f.state === 'unreadable') continue;
          entries.push({ inode: f.ino, pos: this.#committedOffset(f), file: f.path });
        }
        try {
          await writePositionFile(this.#config.positionFile, entries);
        } catch (err) {
          tailPositionWriteFailed.emit(this.#log, { err, file: this.#config.positionFile });
        }
      } while (this.#writeAgain);
    };
    this.#writing = write().finally(() => (this.#writing = undefined));
    return this.#writing;
  }
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


/** Whether `p` still names the file `devIno` (false when it names nothing or another file). */
function sameFile(p: string, devIno: string): boolean {
  try {
    const st = lstatSync(p);
    return `${st.dev}:${st.ino}` === devIno;
  } catch {
    return false;
  }
}
