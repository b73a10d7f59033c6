import type { Stats } from 'node:fs';
import path from 'node:path';
import { tailCopyContinued, tailCopySkipped } from '../../telemetry/index.js';
import { fingerprintTagOf, identityKey } from '../file-identity.js';
import { readGzipHead } from './gzip-head.js';
import type { TailContext } from './tail-context.js';
import { TailFile } from './tail-file.js';
import { epochOf, offsetOf } from './tail-position.js';
import type { FileGroupConfig } from './taildir-config.js';

/**
 * The `.gz` files of a group: a followed file's compressed rotation (logrotate's
 * `compress`), or a log of their own. A `.gz` is known by the fingerprint of its
 * decompressed first line (gzip-head.ts), which is its original's:
 *   - while the original is followed, the `.gz` is a copy: not read (its lines are read there);
 *   - once the original is gone, the `.gz` continues the original's key from the position
 *     counted (found in the checkpoint by the key's fingerprint tag, or in this run's
 *     memory): only what was not counted is read, nothing at all when its trailer's size
 *     says it holds no more;
 *   - a `.gz` of a log never followed is read whole, under its own key.
 */
export class GzipCopies {
  readonly #c: TailContext;
  /** At the first start with skipToEnd, a `.gz` found then is not read. */
  readonly #skipAtStart: () => boolean;

  constructor(context: TailContext, skipAtStart: () => boolean) {
    this.#c = context;
    this.#skipAtStart = skipAtStart;
  }

  found(p: string, group: FileGroupConfig, lst: Stats): void {
    const f = new TailFile(p, group, lst, this.#c.config.maxLineLength);
    this.#c.files.add(f);
    this.lookAt(f, lst);
  }

  /** Reads the `.gz` file's head: until its first line inflates, it waits (gzip may be writing it). */
  lookAt(f: TailFile, lst: Stats): void {
    f.gzipSeen = `${lst.size}:${lst.mtimeMs}`;
    f.size = lst.size;
    let head;
    try {
      head = readGzipHead(f.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') this.#c.forget(f);
      else this.#c.unreadable(f, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
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
      this.#c.markDirty(f);
      return;
    }
    f.gzipFingerprint = head.fingerprint;
    this.#place(f);
  }

  /** Copies whose original is not followed any more are placed again (continued, or done). */
  reconcile(): void {
    for (const f of this.#c.files) {
      if (f.state === 'copy' && !this.#originalOf(f.gzipFingerprint!)) this.#place(f);
    }
  }

  done(f: TailFile, reason: string): void {
    f.state = 'done';
    f.reason = reason;
  }

  #originalOf(fingerprint: string): TailFile | undefined {
    for (const o of this.#c.files) if (!o.gzip && o.identity?.fingerprint === fingerprint) return o;
    return undefined;
  }

  #place(f: TailFile): void {
    const c = this.#c;
    const fp = f.gzipFingerprint!;
    const original = this.#originalOf(fp);
    if (original) {
      if (f.state !== 'copy' || f.copyOf !== original.path) tailCopySkipped.emit(c.log, { file: f.path, copyOf: original.path });
      f.state = 'copy';
      f.copyOf = original.path;
      f.key = original.key;
      f.reason = `a compressed copy of ${path.basename(original.path)}, whose lines are read there`;
      return;
    }
    const ownKey = identityKey(c.sourceId, { dev: f.dev, ino: f.ino, fingerprint: fp });
    let best: { key: string; position: number } | undefined;
    const own = c.positions?.committed(ownKey) ?? c.memory.get(ownKey);
    if (own !== undefined) best = { key: ownKey, position: own };
    else {
      const tag = fp.slice(0, 12);
      const prefix = c.sourceId + '-';
      const consider = (key: string, position: number) => {
        if (key.startsWith(prefix) && fingerprintTagOf(key) === tag && (!best || position > best.position)) best = { key, position };
      };
      for (const [key, position] of c.positions?.committedEntries?.() ?? []) consider(key, position);
      for (const [key, position] of c.memory.entries()) consider(key, position);
    }
    const key = best?.key ?? ownKey;
    const epoch = best ? epochOf(best.position) : 0;
    const offset = best ? offsetOf(best.position) : 0;
    f.key = key;
    f.identity = undefined;
    f.resetAt(epoch, offset, c.config.maxLineLength);
    f.copyOf = undefined;
    if (best && key !== ownKey) {
      // Its trailer says how long it is (modulo 4 GiB): all of it read already, nothing to inflate.
      if (f.gzipIsize !== undefined && f.gzipIsize === offset % 2 ** 32) {
        this.done(f, `a compressed copy of lines read before (${offset} bytes)`);
        return;
      }
      tailCopyContinued.emit(c.log, { file: f.path, resumeAt: offset });
    } else if (!best && this.#skipAtStart()) {
      this.done(f, 'skipped at the first start (skipToEnd)');
      return;
    }
    f.state = 'following';
    f.reason = undefined;
    c.markDirty(f);
  }
}
