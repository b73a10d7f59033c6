/**
 * One progress bar on stderr, redrawn in place at most every 100 ms, only on a terminal
 * (a pipe or a file gets nothing: the report itself is the output).
 */
export class ProgressLine {
  readonly #err: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly #total: number;
  #lastDraw = 0;
  #drawn = false;

  constructor(err: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }, totalBytes: number) {
    this.#err = err;
    this.#total = totalBytes;
  }

  update(doneBytes: number, label: string): void {
    if (!this.#err.isTTY) return;
    const now = performance.now();
    if (now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    const width = Math.max(10, Math.min(40, (this.#err.columns ?? 80) - label.length - 12));
    const done = this.#total > 0 ? Math.min(1, doneBytes / this.#total) : 0;
    const filled = Math.round(done * width);
    this.#err.write(`\r\x1b[2K${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${String(Math.floor(done * 100)).padStart(3)}%  ${label}`);
    this.#drawn = true;
  }

  clear(): void {
    if (this.#drawn) this.#err.write('\r\x1b[2K');
    this.#drawn = false;
  }
}
