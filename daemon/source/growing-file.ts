import { fstatSync, statSync, type Stats } from 'node:fs';
import { HEAD_BYTES, hashHead } from './fingerprint.js';

const LOOK_MS = 100;

/** What a file read to its end turned out to be. */
export type EndOfFile =
  | { readonly kind: 'settled' }
  | { readonly kind: 'grew'; readonly size: number }
  | { readonly kind: 'changed'; readonly problem: string; readonly size: number }
  | { readonly kind: 'stopped' };

/**
 * A plain file being read, watched at its end: `cp` of a large file, or any writer that
 * pauses for longer than `pollDelay`, lets the source start early. A file that only grows
 * (same inode, same name, its first bytes unchanged) is still being written, and is read
 * on; it is finished once it has not changed for `pollDelay` after its end was reached (so a
 * writer may pause for up to about twice `pollDelay` before the file is first read, and
 * for up to `pollDelay` after that).
 * A file that shrinks, is rewritten in place or is replaced under its name has changed.
 */
export class GrowingFile {
  readonly #fd: number;
  readonly #path: string;
  readonly #pollDelay: number;
  readonly #ino: number;
  #mtimeMs: number;
  /** Hash of the file's first bytes (up to 64 KB) when it was opened, and how many. */
  #head = '';
  #headBytes = 0;

  private constructor(fd: number, path: string, opened: Stats, pollDelay: number) {
    this.#fd = fd;
    this.#path = path;
    this.#pollDelay = pollDelay;
    this.#ino = opened.ino;
    this.#mtimeMs = opened.mtimeMs;
  }

  /** The descriptor it is read through. */
  get fd(): number {
    return this.#fd;
  }

  /** `head`: the hash of the first 64 KB when the caller has it already. */
  static open(fd: number, path: string, opened: Stats, pollDelay: number, head?: string): GrowingFile {
    const g = new GrowingFile(fd, path, opened, pollDelay);
    g.#headBytes = Math.min(opened.size, HEAD_BYTES);
    g.#head = head ?? hashHead(fd, g.#headBytes);
    return g;
  }

  /**
   * At the end of the file's `size` bytes known so far (`read` of them were read; fewer when
   * a read found the end early, the file having shrunk): waits until the file has been
   * unchanged for `pollDelay` (at once when its mtime is twice that old), or grows, or changes.
   * `stopped` is asked between looks, so a stopping source does not wait.
   */
  async atEnd(size: number, read: number, stopped: () => boolean): Promise<EndOfFile> {
    // Since when this end has been seen unchanged: bounds the wait when the mtime is in the future.
    const since = Date.now();
    for (;;) {
      // Synchronous: a stat of a cached inode costs microseconds; 10,000 small files come here.
      const st = fstatSync(this.#fd);
      if (st.size < size) return this.#changed('shrank', size, st.size, read);
      if (!this.#sameName()) return this.#changed('was replaced', size, st.size, read);
      if (st.size > size) {
        if (hashHead(this.#fd, this.#headBytes) !== this.#head) return this.#changed('was rewritten', size, st.size, read);
        this.#mtimeMs = st.mtimeMs;
        return { kind: 'grew', size: st.size };
      }
      if (st.mtimeMs !== this.#mtimeMs) return this.#changed('was rewritten', size, st.size, read);
      const now = Date.now();
      // Unchanged for pollDelay since the end was reached; or, by its mtime, for twice that
      // (a file written long ago and renamed in is finished at once, not pollDelay later).
      if (now - since >= this.#pollDelay || now - st.mtimeMs >= 2 * this.#pollDelay) return { kind: 'settled' };
      if (stopped()) return { kind: 'stopped' };
      await new Promise((resolve) => setTimeout(resolve, Math.min(LOOK_MS, this.#pollDelay)));
    }
  }

  /** The name still names this file (or nothing: a file removed while read is read whole). */
  #sameName(): boolean {
    try {
      return statSync(this.#path).ino === this.#ino;
    } catch {
      return true;
    }
  }

  #changed(what: string, size: number, now: number, read: number): EndOfFile {
    return { kind: 'changed', size: read, problem: `${what} while it was read (${size} -> ${now} bytes); its first ${read} bytes were read` };
  }
}
