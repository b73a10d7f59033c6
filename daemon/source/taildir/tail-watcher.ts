import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Logger } from '../../log.js';
import { tailWatchFailed } from '../../telemetry/index.js';
import type { FileGroupConfig } from './taildir-config.js';

/**
 * Hints that a followed directory's file may have changed: chokidar's add, change and unlink
 * of the names some file group matches (depth 0, symlinks not followed). A hint is only a
 * path to look at again; the source decides what it is by stat'ing it (events can come late,
 * twice, in another order, or not at all: chokidar drops a file's `change` events that come
 * within 50 ms of the one before, and the inotify limit can be reached). So the source also
 * polls (TaildirSource: open files every pollDelay, directories when their mtime changes).
 */
export class TailWatcher {
  readonly #groups: readonly FileGroupConfig[];
  readonly #onHint: (filePath: string) => void;
  readonly #log: Logger;
  readonly #errorsLogged = new Set<string>();
  #watcher: FSWatcher | undefined;

  constructor(groups: readonly FileGroupConfig[], onHint: (filePath: string) => void, log: Logger) {
    this.#groups = groups;
    this.#onHint = onHint;
    this.#log = log;
  }

  /** Starts watching; resolves once chokidar watches every matching file present. */
  async start(): Promise<void> {
    const dirs = [...new Set(this.#groups.map((g) => g.dir))];
    const wanted = (p: string) => {
      const dir = path.dirname(p);
      const name = path.basename(p);
      return this.#groups.some((g) => g.dir === dir && g.pattern.test(name));
    };
    const watcher = watch(dirs, {
      depth: 0,
      persistent: true,
      ignoreInitial: true, // the source lists the directories itself
      followSymlinks: false,
      atomic: false,
      ignorePermissionErrors: true,
      ignored: (p: string) => !dirs.includes(p) && !wanted(p),
    });
    this.#watcher = watcher;
    const hint = (p: string) => this.#onHint(path.resolve(p));
    watcher.on('add', hint);
    watcher.on('change', hint);
    watcher.on('unlink', hint);
    watcher.on('error', (err: unknown) => {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      if (this.#errorsLogged.has(code)) return;
      this.#errorsLogged.add(code);
      tailWatchFailed.emit(this.#log, { err });
    });
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    await this.#watcher?.close();
    this.#watcher = undefined;
  }
}
