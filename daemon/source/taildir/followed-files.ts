import type { TailFile } from './tail-file.js';

/**
 * The files a TAILDIR source knows, found by their current name or by their device and
 * inode (a renamed file is the same file). A file that lost its name (renamed away, deleted)
 * stays until it is closed; a name then found again is looked at as a new file.
 */
export class FollowedFiles {
  readonly #all = new Set<TailFile>();
  readonly #byPath = new Map<string, TailFile>();
  readonly #byDevIno = new Map<string, TailFile>();

  get size(): number {
    return this.#all.size;
  }

  add(f: TailFile): void {
    this.#all.add(f);
    this.#byPath.set(f.path, f);
    this.#byDevIno.set(f.devIno, f);
  }

  atPath(p: string): TailFile | undefined {
    return this.#byPath.get(p);
  }

  withDevIno(devIno: string): TailFile | undefined {
    return this.#byDevIno.get(devIno);
  }

  /** The file is known under another name now. */
  rename(f: TailFile, to: string): void {
    if (this.#byPath.get(f.path) === f) this.#byPath.delete(f.path);
    f.path = to;
    this.#byPath.set(to, f);
  }

  /** Its name names nothing, or another file, now. */
  unname(f: TailFile): void {
    if (this.#byPath.get(f.path) === f) this.#byPath.delete(f.path);
  }

  /** Under a name still (not renamed away or deleted). */
  named(f: TailFile): boolean {
    return this.#byPath.get(f.path) === f;
  }

  delete(f: TailFile): void {
    this.#all.delete(f);
    this.unname(f);
    if (this.#byDevIno.get(f.devIno) === f) this.#byDevIno.delete(f.devIno);
  }

  list(): TailFile[] {
    return [...this.#all];
  }

  [Symbol.iterator](): IterableIterator<TailFile> {
    return this.#all.values();
  }
}
