import { promises as fsp, type Stats } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../log.js';
import { spoolNotRegularFile, spoolWatchFailed, spoolWatchPauseFailed, spoolWatchResumeFailed } from '../telemetry/index.js';

/** What the watcher reports: `found` for a new name, and again when a pending file changes. */
export interface SpoolWatcherHandlers {
  found(filePath: string, stats: Stats): void;
  gone(filePath: string): void;
}

/**
 * Finds the files of one directory (not below it) with chokidar: `depth: 0`, and the names
 * the source does not want (finished suffixes, hidden names, include/ignorePattern) are
 * `ignored`, so chokidar neither watches nor reports them. What chokidar does not do stays
 * here (`admit`): anything but a regular file or a symbolic link is skipped with one
 * warning. A link is reported as it is (the reader refuses it unless `followSymlinks`);
 * with `followSymlinks`, a dangling link or one to anything but a regular file is skipped
 * with one warning. chokidar reports no dangling link at all: the source's own listing
 * (spool-discovery.ts) brings those here. The source settles, orders and reads the files.
 */
export class SpoolWatcher {
  readonly #dir: string;
  readonly #wanted: (name: string) => boolean;
  readonly #handlers: SpoolWatcherHandlers;
  readonly #log: Logger;
  /** Links are followed (`followSymlinks`): a dangling one, or one to a FIFO, is skipped here. */
  readonly #followSymlinks: boolean;
  /** Names skipped (not regular files), warned about once each. */
  readonly #skipped = new Set<string>();
  /** Error codes logged already: chokidar may fail the same way for each of 10,000 files. */
  readonly #errorsLogged = new Set<string>();
  #watcher: FSWatcher | undefined;
  /** The last open or close of the chokidar watcher: pause and resume run one after another. */
  #change: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(dir: string, wanted: (name: string) => boolean, handlers: SpoolWatcherHandlers, log: Logger, followSymlinks: boolean) {
    this.#dir = path.resolve(dir);
    this.#wanted = wanted;
    this.#handlers = handlers;
    this.#log = log;
    this.#followSymlinks = followSymlinks;
  }

  /** Reports every file present (once chokidar's first listing is done) and starts watching. */
  async start(): Promise<void> {
    this.#change = this.#open();
    await this.#change;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#change;
    await this.#watcher?.close();
  }

  /**
   * Stops watching until `resume()`. Why: chokidar re-reads the whole directory after each
   * event, as soon as its previous reading ends, and lstat's every entry (`.COMPLETED` ones
   * too) each time; while thousands of queued files are read and renamed, that ran
   * back-to-back and took most of the time (10,000 files: 18 s, of which 6.5 s in lstat on
   * the main thread). Flume too works through one listing before it lists again.
   */
  pause(): Promise<void> {
    this.#change = this.#change.then(async () => {
      const watcher = this.#watcher;
      this.#watcher = undefined;
      await watcher?.close();
    }).catch((err: unknown) => spoolWatchPauseFailed.emit(this.#log, { err }));
    return this.#change;
  }

  /** Watches again: chokidar's first listing reports every file present (known ones included). */
  resume(): Promise<void> {
    this.#change = this.#change
      .then(() => (this.#closed || this.#watcher ? undefined : this.#open()))
      .catch((err: unknown) => spoolWatchResumeFailed.emit(this.#log, { err }));
    return this.#change;
  }

  async #open(): Promise<void> {
    const dir = this.#dir;
    const watcher = watch(dir, {
      depth: 0,
      persistent: true, // an edge agent (no HTTP, no job) lives for this watch; close() ends it
      alwaysStat: true,
      // A file renamed away and another renamed in under its name is a new file: reported as
      // `unlink` then `add`, not merged into one `change` 100 ms later.
      atomic: false,
      // chokidar leaves out files without the owner's read bit; the source reports them
      // instead (renamed .FAILED with the error), so they are not left silently in the spool.
      ignorePermissionErrors: true,
      // Links are the source's to judge (spool-open.ts): chokidar reports them, it never follows one.
      followSymlinks: false,
      // Names with control characters are the listing's (odd-names.ts): quarantined, not read.
      ignored: (p: string) => p !== dir && (path.dirname(p) !== dir || !this.#wanted(path.basename(p)) || CONTROL.test(path.basename(p))),
    });
    this.#watcher = watcher;
    watcher.on('add', (p: string, stats?: Stats) => void this.#classify(p, stats));
    // A pending file that changes may still be written; a finished name used again, too.
    watcher.on('change', (p: string, stats?: Stats) => void this.#classify(p, stats));
    watcher.on('addDir', (p: string) => {
      if (path.resolve(p) !== dir) this.#skip(p, 'a directory');
    });
    watcher.on('unlink', (p: string) => {
      if (!this.#skipped.delete(path.basename(p))) this.#handlers.gone(p);
    });
    watcher.on('unlinkDir', (p: string) => this.#skipped.delete(path.basename(p)));
    watcher.on('error', (err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      if (this.#errorsLogged.has(code)) return;
      this.#errorsLogged.add(code);
      spoolWatchFailed.emit(this.#log, { err });
    });
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  }

  /** Reports what `admit` lets through; chokidar's stats are the entry's own (lstat). */
  async #classify(p: string, stats: Stats | undefined): Promise<void> {
    if (!stats) {
      try {
        stats = await fsp.lstat(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#skip(p, `a file that cannot be stat'ed (${(err as NodeJS.ErrnoException).code})`);
        return;
      }
    }
    if (this.#closed || !this.#watcher) return;
    if (await this.admit(p, stats)) this.#handlers.found(p, stats);
  }

  /**
   * Whether the entry (`stats` from lstat) is for the source to read: a regular file, or a
   * symbolic link (the reader applies the symlink policy). Anything else, and with
   * `followSymlinks` a link that dangles or names anything but a regular file, is skipped
   * with one warning.
   */
  async admit(p: string, stats: Stats): Promise<boolean> {
    if (stats.isFile()) return true;
    if (!stats.isSymbolicLink()) {
      this.#skip(p, kindOf(stats));
      return false;
    }
    if (!this.#followSymlinks) return true;
    try {
      const target = await fsp.stat(p);
      if (target.isFile()) return true;
      this.#skip(p, `a symbolic link to ${kindOf(target)}`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const to = await fsp.readlink(p).catch(() => '?');
      this.#skip(p, code === 'ENOENT' ? `a dangling symbolic link (to ${to}, which does not exist)` : `a symbolic link that cannot be followed (to ${to}: ${code})`);
    }
    return false;
  }

  #skip(p: string, kind: string): void {
    const name = path.basename(p);
    if (this.#skipped.has(name)) return;
    this.#skipped.add(name);
    spoolNotRegularFile.emit(this.#log, { file: p, kind });
  }
}

const CONTROL = /[\x00-\x1f\x7f]/;

function kindOf(stats: Stats): string {
  return stats.isFIFO() ? 'a FIFO' : stats.isSocket() ? 'a socket' : stats.isDirectory() ? 'a directory' : stats.isSymbolicLink() ? 'a symbolic link' : 'a device';
}
