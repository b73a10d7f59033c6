import { closeSync, constants as fsc, fstatSync, promises as fsp, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { Channel } from '../../channel/index.js';
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { sourceIdNotKept, tailFileClosed, tailFollowing, tailGzipRead, tailLastLineTaken, tailPositionFileUnreadable, tailReadFailed } from '../../telemetry/index.js';
import { ChunkPool } from '../chunk-pool.js';
import { EventBatcher } from '../event-batcher.js';
import { keptSourceId } from '../file-key.js';
import type { SourceContext } from '../source-context.js';
import type { SourcePositions } from '../source-positions.js';
import { settingError } from '../../startup-errors.js';
import type { StatsPart } from '../../telemetry/stats.js';
import { FollowedFiles } from './followed-files.js';
import { KeyMemory } from './key-memory.js';
import { PositionFileWriter, readPositionFile, type PositionEntry } from './position-file.js';
import type { TailContext } from './tail-context.js';
import { TailDiscovery } from './tail-discovery.js';
import type { TailFile, TailState } from './tail-file.js';
import { committedOffsetOf, positionOf } from './tail-position.js';
import { TailReader } from './tail-reader.js';
import { TailWatcher } from './tail-watcher.js';
import type { TaildirSourceConfig } from './taildir-config.js';

const CHUNK_BYTES = 1 << 20;
/**
 * After a look that found new lines, the file is looked at again this much later: chokidar
 * drops the `change` events of a file that come within 50 ms of the one it reported, so an
 * append right after another would otherwise wait for the next poll.
 */
const RECHECK_MS = 60;

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

/** A start-up failure that a setting of this source causes (build() names the key, in the file). */
export class TaildirSettingError extends ConfigError {
  readonly setting: 'positionFile' | `filegroups.${string}`;
  constructor(setting: 'positionFile' | `filegroups.${string}`, message: string) {
    super('LF_CONFIG_UNUSABLE', message, setting);
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
 * This class runs the read loop (the one place files are read, closed and forgotten) and
 * the polls; its parts:
 *   TailDiscovery   which files, and what became of each (gzip-copies.ts for the .gz)
 *   TailWatcher     chokidar's hints (polling here is the fallback)
 *   TailReader      new bytes to lines to channel batches (the spool's scanner and batcher)
 *   FollowedFiles   the files by name and by device+inode; KeyMemory: keys let go
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
  readonly #positionFile: PositionFileWriter;
  readonly #files = new FollowedFiles();
  readonly #memory = new KeyMemory();
  readonly #discovery: TailDiscovery;
  /** Files to read (or close, or identify) next, in the order they asked. */
  readonly #dirty = new Set<TailFile>();
  readonly #recheck = new Set<TailFile>();
  /** Files to close: idle (or left for good), closed by the read loop, never under a read. */
  readonly #toClose = new Set<TailFile>();
  #wake: (() => void) | undefined;
  #loop: Promise<void> = Promise.resolve();
  #pollTimer: NodeJS.Timeout | undefined;
  #recheckTimer: NodeJS.Timeout | undefined;
  #positionTimer: NodeJS.Timeout | undefined;
  #polling = false;
  #stopping = false;
  /** The first scan ran: positions are known (a source that failed to start writes no position file). */
  #started = false;

  /**
   * `positions`: who durably counts this source's lines (the job in this process, or a file
   * channel); without, positions are what was put into the channel, as Flume's.
   */
  constructor(config: TaildirSourceConfig, channel: Channel, logger: Logger, positions?: SourcePositions) {
    this.name = config.name;
    this.#config = config;
    this.#log = logger.child({ source: config.name });
    const id = taildirSourceId(config);
    this.#sourceId = id.id;
    if (!id.kept) sourceIdNotKept.emit(this.#log, { file: sourceIdFileOf(config), sourceId: id.id });
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
    const context: TailContext = {
      config,
      sourceId: this.#sourceId,
      log: this.#log,
      files: this.#files,
      positions,
      memory: this.#memory,
      markDirty: (f) => this.#markDirty(f),
      closeLater: (f) => {
        this.#toClose.add(f);
        this.#markDirty(f);
      },
      forget: (f) => this.#forget(f),
      unreadable: (f, reason) => this.#unreadable(f, reason),
      stopping: () => this.#stopping,
    };
    this.#discovery = new TailDiscovery(context);
    this.#watcher = new TailWatcher(config.groups, (p) => this.#discovery.examine(p), this.#log);
    this.#positionFile = new PositionFileWriter(config.positionFile, this.#log);
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

  /** Files followed now (the `.gz` aside), and the bytes written to them not yet taken. */
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
      committed: f.key ? committedOffsetOf(f, this.#positions) : undefined,
      size: f.size,
      lagBytes: f.key ? f.lagBytes : 0,
      epoch: f.epoch,
      lines: f.lines,
      truncatedLines: f.truncatedLines,
      parseErrors: f.key ? this.#positions?.figures?.(f.key)?.parseErrors : undefined,
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
      const why = `the directory of the file group must exist and be readable`;
      let st;
      try {
        st = await fsp.stat(g.dir);
        await fsp.access(g.dir, fsc.R_OK | fsc.X_OK);
      } catch (err) {
        throw new TaildirSettingError(`filegroups.${g.name}`, `${g.dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}: ${why}`);
      }
      if (!st.isDirectory()) throw new TaildirSettingError(`filegroups.${g.name}`, `${g.dir}: ENOTDIR: ${why}`);
    }
    const read = readPositionFile(c.positionFile);
    if (read.kind === 'unreadable') tailPositionFileUnreadable.emit(this.#log, { file: c.positionFile, reason: read.reason });
    const saved = new Map(read.kind === 'read' ? read.entries.map((e) => [`${e.inode}\u0000${e.file}`, e.pos] as const) : []);
    this.#discovery.scanAtStart(saved, read.kind === 'missing');
    this.#started = true;
    // Now, before anything is read: the positions skipToEnd chose hold from here on.
    await this.#writePositions();
    if (c.watch) {
      await this.#watcher.start();
      // What was created while the watcher started.
      this.#discovery.scan(true);
    }
    this.#loop = this.#readLoop();
    this.#pollTimer = setInterval(() => this.#poll(), c.pollDelayMs);
    this.#positionTimer = setInterval(() => void this.#writePositions(), c.writePosIntervalMs);
    tailFollowing.emit(this.#log, { groups: c.groups.map((g) => g.spec), files: this.followedCounts().files, positionFile: c.positionFile });
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
    if (this.#started) await this.#writePositions();
    for (const f of this.#files) this.#closeFd(f);
  }

  // ---- the read loop: the one place files are read, closed and forgotten ------------

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

  /** One file at a time, in the order they asked. */
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
      // Its first line was not complete; or it lost its name before it had one: let go.
      if (this.#toClose.delete(f)) this.#forget(f);
      else this.#discovery.identify(f);
      return;
    }
    const out = await this.#reader.readNew(f, this.#config.maxBatchCount);
    if (out.kind === 'read') {
      f.changedAt = Date.now();
      if (out.more) this.#markDirty(f);
      else this.#recheckSoon(f);
    } else if (out.kind === 'shrank') {
      this.#discovery.startOver(f, `shrank to ${out.size} bytes from at least ${f.readEnd} (copytruncate?)`, out.size);
    } else if (out.kind === 'rewritten') {
      this.#discovery.startOver(f, 'its first line changed (truncated and written again?)', out.size);
    }
    // Closed only when this look found nothing new (it may have grown since it was found idle).
    if (this.#toClose.delete(f) && out.kind === 'none') await this.#closeIdle(f);
  }

  async #readGzip(f: TailFile): Promise<void> {
    try {
      if ((await this.#reader.readGzip(f)) === 'short') {
        this.#unreadable(f, `it holds fewer bytes than the ${f.readPos} read of it before`);
        return;
      }
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
    this.#discovery.copies.done(f, `read to its end (${f.readPos} bytes)`);
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
      this.#forget(f);
      this.#discovery.copies.reconcile();
      return;
    }
    this.#closeFd(f);
    f.state = 'closed';
    f.reason = `idle for ${this.#config.idleTimeoutMs / 1000} s: closed, opened again when it grows`;
  }

  /** Stops knowing the file (its descriptor closed); its key's position is remembered for this run. */
  #forget(f: TailFile): void {
    if (f.key && !f.gzip) this.#memory.remember(f.key, positionOf(f.epoch, f.readPos));
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
    this.#discovery.warnOnce(f.path, reason);
  }

  // ---- polling: the fallback for lost hints, idle files, the directories ---------------

  #poll(): void {
    if (this.#polling || this.#stopping) return;
    this.#polling = true;
    try {
      const now = Date.now();
      for (const f of this.#files.list()) {
        if (f.gzip) {
          // A .gz still being written (or unreadable) is looked at again when it changed: its hint may have been lost.
          if (f.state === 'waiting' || f.state === 'unreadable') {
            let st: Stats | undefined;
            try {
              st = statSync(f.path);
            } catch {
              st = undefined;
            }
            if (!st || `${st.size}:${st.mtimeMs}` !== f.gzipSeen) this.#discovery.examine(f.path);
          }
          continue;
        }
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
          if (st.nlink === 0) this.#discovery.deletedUnderName(f);
        } else if (f.state === 'closed' || f.state === 'unreadable') {
          let st: Stats | undefined;
          try {
            st = statSync(f.path);
          } catch {
            st = undefined;
          }
          if (!st || st.size !== f.readEnd || `${st.dev}:${st.ino}` !== f.devIno) this.#discovery.examine(f.path);
        }
      }
      this.#discovery.scan(false);
    } finally {
      this.#polling = false;
    }
  }

  /** Flume's position file, from the committed positions. */
  #writePositions(): Promise<void> {
    return this.#positionFile.write(() => {
      const entries: PositionEntry[] = [];
      for (const f of this.#files) {
        if (f.gzip || !f.key || !this.#files.named(f) || f.state === 'unreadable') continue;
        entries.push({ inode: f.ino, pos: committedOffsetOf(f, this.#positions), file: f.path });
      }
      return entries;
    });
  }
}

/**
 * Prefix of a TAILDIR source's file keys and its edge's subject token: `sourceId`, else made
 * once from the host and the position file (each source has its own) and kept beside that
 * file. Made at each start, a container re-created with another hostname had another id,
 * and its edge published every file again under new message ids.
 */
export function taildirSourceId(config: Pick<TaildirSourceConfig, 'positionFile' | 'sourceId'>): { id: string; kept: boolean } {
  return keptSourceId(`taildir:${config.positionFile}`, sourceIdFileOf(config), config.sourceId);
}

/** Where a TAILDIR source keeps the id it made: beside its position file. */
export function sourceIdFileOf(config: Pick<TaildirSourceConfig, 'positionFile'>): string {
  return `${config.positionFile}.source-id`;
}

/**
 * `type = TAILDIR` (components.ts). With a position keeper (the job in this process, or a
 * file channel), a file resumes after its kept position; without, after what was put into
 * the channel (the position file), as Flume's.
 */
export function build(config: TaildirSourceConfig, ctx: SourceContext) {
  const positions = ctx.positionKeeper(config.channel)?.keepPositions(taildirSourceId(config).id, () => {});
  const source = new TaildirSource(config, ctx.channel(config.channel), ctx.logger, positions);
  return {
    name: config.name,
    start: () => source.start().catch((err: Error) => {
      throw err instanceof TaildirSettingError ? settingError(ctx.file, ctx.key, err.setting, { message: err.message }) : err;
    }),
    stop: () => source.stop(),
    /** After the job's last checkpoint: the position file says what it committed. */
    close: () => source.close(),
    stats: (): StatsPart => ({ eventsRead: source.eventsRead, truncatedLines: source.truncatedLines, followed: source.followedCounts() }),
    followed: () => source.followedList(),
  };
}
