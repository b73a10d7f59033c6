import { watch, promises as fsp, type Dirent, type FSWatcher, type Stats } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { spoolListingFailed, spoolNotRegularFile, spoolWatchFailed, spoolWatchUnavailable } from '../telemetry/index.js';

/** What the watcher reports; `found` once per name until the name is gone or forgotten. */
export interface SpoolWatcherHandlers {
  found(filePath: string, stats: Stats): void;
  gone(filePath: string): void;
}

/**
 * Events this soon after a listing wait for more before the next one: a burst of renames
 * costs a few listings, not one per file. The first event after a quiet spell lists at once
 * (a file renamed into an idle spool is seen without waiting).
 */
const DEBOUNCE_MS = 50;
/** Stats of new names run this many at a time. */
const STAT_PARALLEL = 64;

/**
 * Finds the files of one directory (not below it). `fs.watch` says that something changed,
 * a listing says what: only names not seen before are stat'ed, so a directory of n files
 * costs one `readdir` per burst of events, not n stats per event. chokidar re-stat'ed the
 * whole directory on every rename: 10,000 files dropped at once took over 60 s to be found
 * and read (quadratic); with this, about 3 s (test/spool-scale.test.ts). The directory is
 * also listed every `rescanMs`, as Flume polls, in case the OS drops events.
 */
export class SpoolWatcher {
  readonly #dir: string;
  readonly #wanted: (name: string) => boolean;
  readonly #handlers: SpoolWatcherHandlers;
  readonly #log: Logger;
  readonly #rescanMs: number;
  /** Names in the last listing that were reported (`file`) or are not regular files. */
  readonly #known = new Map<string, 'file' | 'skipped'>();
  /** Names forgotten while a listing was running: that listing is stale for them. */
  readonly #forgottenDuringScan = new Set<string>();
  #fsWatcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #interval: NodeJS.Timeout | undefined;
  #scan: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #lastScanEnd = 0;

  constructor(dir: string, wanted: (name: string) => boolean, handlers: SpoolWatcherHandlers, log: Logger, rescanMs: number) {
    this.#dir = dir;
    this.#wanted = wanted;
    this.#handlers = handlers;
    this.#log = log;
    this.#rescanMs = rescanMs;
  }

  /** Lists the directory once (every file present is reported) and starts watching. */
  async start(): Promise<void> {
    try {
      // Persistent: an edge agent (no HTTP, no job) lives for this watch; close() ends it.
      this.#fsWatcher = watch(this.#dir, { persistent: true }, () => this.#schedule());
      this.#fsWatcher.on('error', (err) => spoolWatchFailed.emit(this.#log, { err }));
    } catch (err) {
      // For example the inotify watch limit reached: polling still finds every file.
      spoolWatchUnavailable.emit(this.#log, { err });
    }
    await this.#runScan();
    this.#interval = setInterval(() => this.#schedule(), this.#rescanMs);
    if (this.#fsWatcher) this.#interval.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#interval);
    this.#fsWatcher?.close();
    await this.#scan;
  }

  /** The source renamed or deleted the file: the name, if it comes back, is a new file. */
  forget(name: string): void {
    this.#known.delete(name);
    if (this.#scan) this.#forgottenDuringScan.add(name);
  }

  #schedule(): void {
    if (this.#closed || this.#timer) return;
    const quietFor = performance.now() - this.#lastScanEnd;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#runScan();
    }, this.#scan || quietFor < DEBOUNCE_MS ? DEBOUNCE_MS : 0);
  }

  async #runScan(): Promise<void> {
    if (this.#scan) {
      this.#again = true;
      return this.#scan;
    }
    this.#scan = this.#list().catch((err: unknown) => spoolListingFailed.emit(this.#log, { err }));
    await this.#scan;
    this.#scan = undefined;
    this.#lastScanEnd = performance.now();
    const stale = this.#forgottenDuringScan.size > 0;
    this.#forgottenDuringScan.clear();
    if ((this.#again || stale) && !this.#closed) {
      this.#again = false;
      this.#schedule();
    }
  }

  async #list(): Promise<void> {
    const entries = await fsp.readdir(this.#dir, { withFileTypes: true });
    const present = new Set<string>();
    const fresh: Dirent[] = [];
    for (const e of entries) {
      if (!this.#wanted(e.name)) continue;
      present.add(e.name);
      if (!this.#known.has(e.name)) fresh.push(e);
    }
    for (let i = 0; i < fresh.length && !this.#closed; i += STAT_PARALLEL) {
      await Promise.all(fresh.slice(i, i + STAT_PARALLEL).map((e) => this.#classify(e)));
    }
    for (const name of [...this.#known.keys()]) {
      if (present.has(name)) continue;
      const was = this.#known.get(name);
      this.#known.delete(name);
      if (was === 'file') this.#handlers.gone(path.join(this.#dir, name));
    }
  }

  /** Reports a regular file (or a symlink to one); anything else is logged once and skipped. */
  async #classify(e: Dirent): Promise<void> {
    const p = path.join(this.#dir, e.name);
    let kind = direntKind(e);
    let stats: Stats | undefined;
    if (kind === 'file' || kind === 'symlink' || kind === 'unknown') {
      try {
        stats = await fsp.stat(p); // follows a symlink to what it names
        kind = stats.isFile() ? 'file' : kind === 'symlink' ? `symlink to ${statsKind(stats)}` : statsKind(stats);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && kind === 'file') return; // gone already
        kind = `${kind} that cannot be stat'ed (${(err as NodeJS.ErrnoException).code})`;
      }
    }
    if (this.#closed || this.#forgottenDuringScan.has(e.name)) return;
    if (kind === 'file' && stats) {
      this.#known.set(e.name, 'file');
      this.#handlers.found(p, stats);
    } else {
      this.#known.set(e.name, 'skipped');
      spoolNotRegularFile.emit(this.#log, { file: p, kind });
    }
  }
}

function direntKind(e: Dirent): string {
  if (e.isFile()) return 'file';
  if (e.isSymbolicLink()) return 'symlink';
  if (e.isDirectory()) return 'directory';
  if (e.isFIFO()) return 'FIFO';
  if (e.isSocket()) return 'socket';
  if (e.isBlockDevice() || e.isCharacterDevice()) return 'device';
  return 'unknown'; // a file system that does not give types in listings
}

function statsKind(s: Stats): string {
  if (s.isDirectory()) return 'a directory';
  if (s.isFIFO()) return 'a FIFO';
  if (s.isSocket()) return 'a socket';
  return 'a device';
}
