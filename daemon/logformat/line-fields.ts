
/**
 * The fields a line gives, by index: the built-in dimensions' (fixed indexes, whatever the
 * format) and after them a JSON format's own fields (`fields.action = event.action`).
 */
export const BUILTIN_FIELDS = ['url', 'status', 'client', 'referrer', 'agent', 'method', 'vhost', 'user'] as const;
export type BuiltinField = (typeof BUILTIN_FIELDS)[number];
export const FIELD: { readonly [K in BuiltinField]: number } = { url: 0, status: 1, client: 2, referrer: 3, agent: 4, method: 5, vhost: 6, user: 7 };

/** What a field the line lacks reads as: `-`, as Apache writes an empty referer or user. */
export const MISSING = Buffer.from('-');

/**
 * Where a parsed line's fields are, reused line after line (the hot path allocates
 * nothing): field `i` is `bufs[i][starts[i], ends[i])`, usually the line's own buffer (a
 * JSON string with escapes is unescaped into `scratch`). `start`/`end` repeat the URL's
 * range, `timeStart`/`timeEnd` the time's, as `UrlRange` has them.
 */
export class LineFields implements UrlRange {
  start = 0;
  end = 0;
  /** The time's text in the line (`[...]`'s inside, or ISO 8601 with `timeIso`); -1: none there. */
  timeStart = -1;
  timeEnd = 0;
  timeIso = false;
  /** A time the parser read itself (a JSON number or ISO string), in ms; NaN otherwise. */
  timeMs = NaN;
  /** The response status, 100-999; 0 when the line has none. */
  status = 0;
  /** The response size in bytes (`-` is 0). */
  bytes = 0;
  readonly bufs: Buffer[];
  readonly starts: Int32Array;
  readonly ends: Int32Array;
  /** Unescaped JSON strings of this line, when a field needs it. */
  scratch = Buffer.allocUnsafe(256);
  scratchUsed = 0;

  constructor(fieldCount: number = BUILTIN_FIELDS.length) {
    const n = Math.max(fieldCount, BUILTIN_FIELDS.length);
    this.bufs = new Array<Buffer>(n).fill(MISSING);
    this.starts = new Int32Array(n);
    this.ends = new Int32Array(n).fill(1);
  }

  /** Every field missing, no time, no status: before a line is parsed. */
  reset(): void {
    const bufs = this.bufs;
    for (let i = 0; i < bufs.length; i++) {
      bufs[i] = MISSING;
      this.starts[i] = 0;
      this.ends[i] = 1;
    }
    this.timeStart = -1;
    this.timeIso = false;
    this.timeMs = NaN;
    this.status = 0;
    this.bytes = 0;
    this.scratchUsed = 0;
  }

  set(i: number, buf: Buffer, start: number, end: number): void {
    this.bufs[i] = buf;
    this.starts[i] = start;
    this.ends[i] = end;
  }

  /** A field as text (tests, tools, explanations). */
  text(i: number): string {
    return this.bufs[i]!.toString('utf8', this.starts[i], this.ends[i]);
  }
}

/** The status code of 3 ASCII digits at `buf[p, p + 3)`, or 0. */
export function statusAt(buf: Buffer, p: number): number {
  const a = buf[p]! - 48;
  const b = buf[p + 1]! - 48;
  const c = buf[p + 2]! - 48;
  if (a < 1 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return 0;
  return a * 100 + b * 10 + c;
}

/** The decimal number `buf[start, end)` (up to 15 digits: exact), `-` or empty as 0; NaN if not digits. */
export function sizeAt(buf: Buffer, start: number, end: number): number {
  if (end - start === 1 && buf[start] === 45) return 0;
  if (end - start > 15) return NaN;
  let v = 0;
  for (let p = start; p < end; p++) {
    const d = buf[p]! - 48;
    if (d < 0 || d > 9) return NaN;
    v = v * 10 + d;
  }
  return v;
}

/** Where the URL of a parsed line is (and its time): what `LineFields` extends. */
export interface UrlRange {
  start: number;
  end: number;
  /** Where the line's time is (inside `[...]`), -1 when the format has none. */
  timeStart?: number;
  timeEnd?: number;
}

/** Parses the line `buf[start, end)` into `out`; false for a parse error. */
export type LineParser = (buf: Buffer, start: number, end: number, out: LineFields) => boolean;

/** What a format gives: its parser, and which fields its lines have. */
export interface LineFormat {
  readonly parse: LineParser;
  /** Field names by index (`LineFields`' order): the built-ins, then a JSON format's own. */
  readonly fieldNames: readonly string[];
  /** The fields the format has (a built-in it lacks reads as `-` on every line). */
  readonly has: ReadonlySet<string>;
  /** Whether its lines carry a time, a size, a status. */
  readonly hasTime: boolean;
}
