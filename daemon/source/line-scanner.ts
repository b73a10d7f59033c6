const LF = 10;
const CR = 13;

/**
 * Finds line boundaries in byte chunks (LF or CRLF) without decoding text. Lines longer
 * than `maxLineLength` bytes are cut there (at a UTF-8 character boundary) and the rest
 * of the line is skipped, so one huge line costs bounded memory.
 */
export class LineScanner {
  readonly maxLineLength: number;
  starts: Int32Array;
  ends: Int32Array;
  count = 0;
  /** Lines cut at `maxLineLength` so far. */
  truncated = 0;
  #skipping = false;

  constructor(maxLineLength: number, expectedLines = 1024) {
    this.maxLineLength = maxLineLength;
    this.starts = new Int32Array(expectedLines);
    this.ends = new Int32Array(expectedLines);
  }

  /** Starts a fresh set of ranges for a new chunk; the old arrays stay with their batches. */
  resetRanges(expectedLines: number): void {
    this.starts = new Int32Array(expectedLines);
    this.ends = new Int32Array(expectedLines);
    this.count = 0;
  }

  /**
   * Records every complete line of `buf[from, to)`; returns where the unfinished last
   * line starts (`to` when there is none to keep).
   */
  scan(buf: Buffer, from: number, to: number): number {
    const view = to === buf.length ? buf : buf.subarray(0, to);
    let lineStart = from;
    for (;;) {
      const lf = view.indexOf(LF, lineStart);
      if (lf === -1) break;
      if (this.#skipping) this.#skipping = false;
      else this.#line(buf, lineStart, lf);
      lineStart = lf + 1;
    }
    if (this.#skipping) return to;
    if (to - lineStart > this.maxLineLength) {
      this.#line(buf, lineStart, to);
      this.#skipping = true;
      return to;
    }
    return lineStart;
  }

  /** The file ended: its last line had no line feed. */
  finish(buf: Buffer, from: number, to: number): void {
    if (!this.#skipping && to > from) this.#line(buf, from, to);
    this.#skipping = false;
  }

  #line(buf: Buffer, start: number, end: number): void {
    if (end > start && buf[end - 1] === CR) end--;
    if (end - start > this.maxLineLength) {
      end = start + this.maxLineLength;
      // Do not split a UTF-8 sequence: back off over continuation bytes.
      while (end > start && (buf[end]! & 0xc0) === 0x80) end--;
      this.truncated++;
    }
    if (this.count === this.starts.length) this.#grow();
    this.starts[this.count] = start;
    this.ends[this.count] = end;
    this.count++;
  }

  #grow(): void {
    const s = new Int32Array(this.starts.length * 2);
    s.set(this.starts);
    const e = new Int32Array(this.ends.length * 2);
    e.set(this.ends);
    this.starts = s;
    this.ends = e;
  }
}
