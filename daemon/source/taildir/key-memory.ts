/** Keys remembered at most (the newest). */
const MAX_REMEMBERED = 10_000;

/**
 * What this run remembers of the keys it let go: a file closed for good, a file truncated
 * (its key must go on in a new epoch), a key forgotten from the checkpoint. A key seen again
 * in this run continues where it was, so a forget that reaches the job after a new batch
 * of the same key cannot make that batch look counted.
 *
 * And which keys of the checkpoint to forget: those no file refers to any more (its file and
 * its copies gone), at two sweeps in a row, so the checkpoint does not grow with every
 * rotation while a file renamed between two listings is not forgotten.
 */
export class KeyMemory {
  readonly #positions = new Map<string, number>();
  #unreferenced = new Set<string>();

  get(key: string): number | undefined {
    return this.#positions.get(key);
  }

  /** Remembers the key's position (the larger, when it had one). */
  remember(key: string, position: number): void {
    const before = this.#positions.get(key);
    this.#positions.delete(key);
    this.#positions.set(key, before === undefined ? position : Math.max(before, position));
    if (this.#positions.size > MAX_REMEMBERED) this.#positions.delete(this.#positions.keys().next().value!);
  }

  entries(): IterableIterator<[string, number]> {
    return this.#positions.entries();
  }

  /**
   * Of the committed `entries`, this source's keys (`prefix`) that are not `referenced` now
   * and were not at the sweep before are forgotten (`forget`) and remembered here.
   */
  sweep(entries: Iterable<[string, number]>, prefix: string, referenced: ReadonlySet<string>, forget: (key: string, position: number) => void): void {
    const unreferenced = new Set<string>();
    for (const [key, position] of [...entries]) {
      if (!key.startsWith(prefix) || referenced.has(key)) continue;
      if (this.#unreferenced.has(key)) {
        forget(key, position);
        this.remember(key, position);
      } else unreferenced.add(key);
    }
    this.#unreferenced = unreferenced;
  }
}
