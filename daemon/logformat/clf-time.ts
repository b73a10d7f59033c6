const MONTHS: Record<string, number> = { Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11 };

/**
 * Parses the access log's time, `10/Oct/2000:13:55:36 -0700`, from bytes, to ms since the
 * epoch (NaN if it is not one). Consecutive lines mostly share their second, so the last
 * answer is kept and reused when the 26 bytes are the same.
 */
export class ClfTimeParser {
  readonly #last = Buffer.alloc(26);
  #lastLen = 0;
  #lastMs = NaN;

  parse(buf: Buffer, start: number, end: number): number {
    const len = end - start;
    if (len === this.#lastLen) {
      let same = true;
      // Compare from the seconds backwards: that is where consecutive lines differ.
      for (let i = Math.min(len, 26) - 1; i >= 0; i--) {
        if (buf[start + i] !== this.#last[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.#lastMs;
    }
    const ms = parseClf(buf, start, end);
    buf.copy(this.#last, 0, start, Math.min(end, start + 26));
    this.#lastLen = len;
    this.#lastMs = ms;
    return ms;
  }
}

function digits(buf: Buffer, at: number, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = buf[at + i]! - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return v;
}

/** `DD/Mon/YYYY:HH:MM:SS +ZZZZ`. */
export function parseClf(buf: Buffer, start: number, end: number): number {
  if (end - start !== 26 || buf[start + 2] !== 47 || buf[start + 6] !== 47 || buf[start + 11] !== 58 || buf[start + 20] !== 32) return NaN;
  const month = MONTHS[buf.toString('latin1', start + 3, start + 6)];
  if (month === undefined) return NaN;
  const day = digits(buf, start, 2);
  const year = digits(buf, start + 7, 4);
  const h = digits(buf, start + 12, 2);
  const m = digits(buf, start + 15, 2);
  const sec = digits(buf, start + 18, 2);
  const sign = buf[start + 21] === 45 ? -1 : buf[start + 21] === 43 ? 1 : NaN;
  const zone = digits(buf, start + 22, 2) * 60 + digits(buf, start + 24, 2);
  const local = Date.UTC(year, month, day, h, m, sec);
  return local - sign * zone * 60_000;
}
