import { promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { DUPLICATE_SUFFIX } from './file-finisher.js';
import type { FileRegistry } from './file-registry.js';
import { ReadyQueue, type Candidate } from './ready-queue.js';
import type { SpoolDirSourceConfig } from './spooldir-config.js';
import { oddName, printableName } from './odd-names.js';
import { SpoolWatcher } from './spool-watcher.js';
import { spoolListingFailed } from '../telemetry/index.js';

/**
 * With this many files queued, the watcher pauses until the queue is empty (see
 * SpoolWatcher.pause): a burst is read from one listing, and the next listing finds what came
 * meanwhile. Below it (a trickle of files), the watcher runs all the time.
 */
export const PAUSE_AT = 500;
/** The spool is listed at most this often (and every pollDelay when that is longer). */
const MIN_LIST_MS = 500;

export type DiscoveryConfig = Pick<
  SpoolDirSourceConfig,
  'spoolDir' | 'pollDelay' | 'consumeOrder' | 'fileSuffix' | 'failedSuffix' | 'includePattern' | 'ignorePattern' | 'followSymlinks'
>;

/** A file whose name the pipeline cannot carry (odd-names.ts): its path's bytes, its printable path, why. */
export type OddNameHandler = (rawPath: Buffer, printablePath: string, reason: string) => void;

/**
 * Which files of the spool are to be read, and when: the watcher finds them, a file is
 * trusted complete once its size and mtime have settled for `pollDelay`, and settled files
 * wait in `consumeOrder` for the reader (`next()`). Files that vanish before they are read
 * are dropped from the registry.
 */
export class SpoolDiscovery {
  readonly #config: DiscoveryConfig;
  readonly #files: FileRegistry;
  readonly #log: Logger;
  readonly #onOddName: OddNameHandler;
  /** Odd names reported already (hex of their bytes): one whose rename failed is not reported at every listing. */
  readonly #oddReported = new Set<string>();
  /** Files seen but not yet trusted complete: their size and mtime must settle. */
  readonly #settling = new Map<string, Candidate>();
  readonly #ready: ReadyQueue;
  #watcher: SpoolWatcher | undefined;
  #settleTimer: NodeJS.Timeout | undefined;
  #listTimer: NodeJS.Timeout | undefined;
  readonly #retries = new Set<NodeJS.Timeout>();
  #listing = false;
  #listings = 0;
  #wakeReader: (() => void) | undefined;
  #started = false;
  #paused = false;
  #closed = false;

  constructor(config: DiscoveryConfig, files: FileRegistry, log: Logger, onOddName: OddNameHandler) {
    this.#config = config;
    this.#files = files;
    this.#log = log;
    this.#onOddName = onOddName;
    this.#ready = new ReadyQueue(config.consumeOrder);
  }

  /** Lists the spool (every file present is found) and watches it. */
  async start(): Promise<void> {
    this.#watcher = new SpoolWatcher(
      this.#config.spoolDir,
      (name) => this.#wanted(name),
      { found: (p, stats) => this.#onAdd(p, stats), gone: (p) => this.#onUnlink(p) },
      this.#log,
      this.#config.followSymlinks,
    );
    await this.#watcher.start();
    this.#started = true;
    this.#pauseIfBusy();
    this.#listTimer = setInterval(() => void this.#listNew(), Math.max(this.#config.pollDelay, MIN_LIST_MS));
    this.#listTimer.unref();
  }

  /**
   * Lists the spool (names only) and reports wanted files that nobody reported, as Flume
   * polls every pollDelay: a directory watch can fail (the inotify limit reached) or lose
   * events, and while the watcher is paused nothing else sees new files. A readdir of 10,000
   * names is a few ms; only new names are stat'ed. Names are read as bytes: one that is not
   * UTF-8 or holds a control character is reported (odd-names.ts), never passed over.
   */
  async #listNew(): Promise<void> {
    if (this.#listing || this.#closed) return;
    this.#listing = true;
    try {
      const dir = this.#config.spoolDir;
      for (const raw of await fsp.readdir(dir, { encoding: 'buffer' })) {
        const odd = oddName(raw);
        const name = odd ? printableName(raw) : raw.toString('utf8');
        const p = path.join(dir, name);
        if (this.#closed || !this.#wanted(name) || this.#files.get(p)) continue;
        if (odd) {
          const id = raw.toString('hex');
          if (!this.#oddReported.has(id)) {
            this.#oddReported.add(id);
            this.#onOddName(Buffer.concat([Buffer.from(dir + path.sep), raw]), p, odd);
          }
          continue;
        }
        const stats = await fsp.lstat(p).catch(() => undefined);
        if (stats && !this.#files.get(p) && this.#watcher && (await this.#watcher.admit(p, stats))) this.#onAdd(p, stats);
      }
    } catch (err) {
      spoolListingFailed.emit(this.#log, { err, spoolDir: this.#config.spoolDir });
    } finally {
      this.#listing = false;
      this.#listings++;
    }
  }

  /** Listings of the spool done: one done after a mark shows that every file present then was looked at. */
  get listings(): number {
    return this.#listings;
  }

  /** True while the watcher is closed because a burst is queued (see `PAUSE_AT`). */
  get paused(): boolean {
    return this.#paused;
  }

  /** Stops finding files; a reader waiting in `next()` gets `undefined`. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#settleTimer);
    clearInterval(this.#listTimer);
    for (const timer of this.#retries) clearTimeout(timer);
    this.#wakeReader?.();
    await this.#watcher?.close();
  }

  /** The next settled file in consume order, waiting for one; `undefined` once closed. */
  async next(): Promise<Candidate | undefined> {
    for (;;) {
      if (this.#closed) return undefined;
      const next = this.#ready.shift();
      if (next) return next;
      if (this.#paused) {
        this.#paused = false;
        void this.#watcher?.resume();
      }
      await new Promise<void>((resolve) => (this.#wakeReader = resolve));
      this.#wakeReader = undefined;
    }
  }

  /**
   * A file that could not be read or finished for now (no descriptor left; its record could
   * not be written): ready again in `ms`, so the reader goes on with the others meanwhile.
   * Dropped if it is gone by then.
   */
  retryLater(cand: Candidate, ms: number): void {
    const timer = setTimeout(() => {
      this.#retries.delete(timer);
      if (!this.#closed && this.#files.get(cand.path)?.state === 'pending' && !this.#ready.has(cand.path)) this.#enqueueReady(cand);
    }, ms);
    this.#retries.add(timer);
  }

  /** Not hidden, not finished by us (any suffix), and matching include/ignorePattern. */
  #wanted(name: string): boolean {
    const c = this.#config;
    return !name.startsWith('.')
      && !name.endsWith(c.fileSuffix)
      && !name.endsWith(c.failedSuffix)
      && !name.endsWith(DUPLICATE_SUFFIX)
      && c.includePattern.test(name)
      && !c.ignorePattern.test(name);
  }

  #onAdd(p: string, stats: Stats | undefined): void {
    if (this.#closed || !stats || !(stats.isFile() || stats.isSymbolicLink())) return;
    const known = this.#files.get(p);
    if (known && known.state !== 'pending') return;
    const name = path.basename(p);
    if (!known) this.#files.add(p, name, stats.size);
    const cand = { path: p, name, size: stats.size, mtimeMs: stats.mtimeMs };
    // A file written earlier and renamed in is complete already: no need to wait.
    if (Date.now() - stats.mtimeMs >= this.#config.pollDelay && !this.#settling.has(p)) {
      if (!this.#ready.has(p)) this.#enqueueReady(cand);
      return;
    }
    this.#settling.set(p, cand);
    this.#scheduleSettle();
  }

  #onUnlink(p: string): void {
    if (this.#settling.delete(p) || this.#ready.remove(p)) this.#files.remove(p);
  }

  #scheduleSettle(): void {
    this.#settleTimer ??= setTimeout(() => {
      this.#settleTimer = undefined;
      void this.#checkSettled();
    }, Math.min(this.#config.pollDelay, 100));
  }

  /**
   * A file is complete when it has not changed for `pollDelay` ms: its mtime is that old,
   * or its size and mtime were the same at two looks `pollDelay` apart.
   */
  async #checkSettled(): Promise<void> {
    const now = Date.now();
    const ready: Candidate[] = [];
    for (const cand of [...this.#settling.values()]) {
      let st: Stats;
      try {
        // A link's own stats, unless links are followed (then its target's, which a writer may still grow).
        st = this.#config.followSymlinks ? await fsp.stat(cand.path) : await fsp.lstat(cand.path);
      } catch {
        this.#settling.delete(cand.path);
        this.#files.remove(cand.path);
        continue;
      }
      if (st.size === cand.size && st.mtimeMs === cand.mtimeMs && now - st.mtimeMs >= this.#config.pollDelay) {
        this.#settling.delete(cand.path);
        ready.push(cand);
      } else {
        cand.size = st.size;
        cand.mtimeMs = st.mtimeMs;
      }
    }
    // All at once, so that files found together are read in consume order.
    for (const cand of ready) this.#enqueueReady(cand);
    if (this.#settling.size > 0) this.#scheduleSettle();
  }

  #enqueueReady(cand: Candidate): void {
    this.#ready.push(cand);
    this.#pauseIfBusy();
    this.#wakeReader?.();
  }

  #pauseIfBusy(): void {
    if (!this.#started || this.#paused || this.#closed || this.#ready.size < PAUSE_AT) return;
    this.#paused = true;
    void this.#watcher?.pause();
  }
}
