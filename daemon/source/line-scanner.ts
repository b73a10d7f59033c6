const LF = 10;
const CR = 13;

/**
 * Finds line boundaries in byte chunks (LF or CRLF) without decoding text. A line longer
 * than `maxLineLength` bytes is cut there (at a UTF-8 character boundary) and the rest of
 * it skipped: only its first `maxLineLength` bytes are ever kept, so one huge line costs
 * bounded memory. A cut line is emitted once its end is found, so that every emitted line
 * is followed by a clean resume offset (the start of the next line).
 *
 * Chunk protocol: `scan` a buffer; carry `buf[rest, carryEnd)` to the start of the next
 * buffer and scan that from 0; at end of file, `finish` what is carried.
 */
export class LineScanner {
  readonly maxLineLength: number;
  starts: Int32Array;
  ends: Int32Array;
  count = 0;
  /** Lines cut at `maxLineLength` so far. */
  truncated = 0;
  /** Where the unfinished last line starts in the buffer last scanned. */
  rest = 0;
  /** End of the bytes to carry to the next buffer. */
  carryEnd = 0;
  /** The last scan stopped at its `maxLines`, before the end of its bytes. */
  stoppedEarly = false;
  /** Length of a cut line's prefix held at the start of the carry, 0 when none. */
  #held = 0;

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
   * Records every complete line of `buf[from, to)`, or the first `maxLines` of them (the
   * TAILDIR source's maxBatchCount): then `stoppedEarly` is set, `rest` is where the next
   * line starts and nothing is carried (the caller reads on from there later); sets `rest`
   * and `carryEnd`.
   */
  scan(buf: Buffer, from: number, to: number, maxLines = Infinity): void {
    const view = to === buf.length ? buf : buf.subarray(0, to);
    let lineStart = from;
    this.stoppedEarly = false;
    if (this.#held > 0) {
      const lf = view.indexOf(LF, from + this.#held);
      if (lf === -1) {
        this.rest = from;
        this.carryEnd = from + this.#held;
        return;
      }
      this.#push(from, from + this.#held);
      this.truncated++;
      this.#held = 0;
      lineStart = lf + 1;
    }
    for (;;) {
      if (this.count >= maxLines) {
        this.stoppedEarly = lineStart < to;
        break;
      }
      const lf = view.indexOf(LF, lineStart);
      if (lf === -1) break;
      this.#line(buf, lineStart, lf);
      lineStart = lf + 1;
    }
    this.rest = lineStart;
    this.carryEnd = to;
    if (this.stoppedEarly) {
      this.carryEnd = lineStart;
      return;
    }
    if (to - lineStart > this.maxLineLength) {
      this.#held = cutAt(buf, lineStart, this.maxLineLength) - lineStart;
      this.carryEnd = lineStart + this.#held;
    }
  }

  /** The file ended: what is carried in `buf[from, to)` is its last line (no line feed). */
  finish(buf: Buffer, from: number, to: number): void {
    if (this.#held > 0) {
      this.#push(from, from + this.#held);
      this.truncated++;
      this.#held = 0;
    } else if (to > from) {
      this.#line(buf, from, to);
    }
    this.rest = to;
    this.carryEnd = to;
  }

  #line(buf: Buffer, start: number, end: number): void {
    if (end > start && buf[end - 1] === CR) end--;
    if (end - start > this.maxLineLength) {
      end = cutAt(buf, start, this.maxLineLength);
      this.truncated++;
    }
    this.#push(start, end);
  }

  #push(start: number, end: number): void {
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

/** `start + max`, moved back (at most 3 bytes) so as not to split a UTF-8 sequence. */
function cutAt(buf: Buffer, start: number, max: number): number {
  let end = start + max;
  for (let back = 0; back < 3 && end > start + 1 && (buf[end]! & 0xc0) === 0x80; back++) end--;
  return end;
}
