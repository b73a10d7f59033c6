const SP = 32;
const QUOTE = 34;
const BACKSLASH = 92;
const LBRACKET = 91;
const RBRACKET = 93;
const DASH = 45;

/** Where the URL of a parsed line is; set by `findUrl`. Reused: the hot path allocates nothing. */
export interface UrlRange {
  start: number;
  end: number;
  /** Where the line's time is (inside `[...]`), -1 when the format has none. */
  timeStart?: number;
  timeEnd?: number;
}

/**
 * What may follow `status size`, where each format says the line ends:
 * - `COMMON_TAIL`: nothing (`%h %l %u %t "%r" %>s %b`);
 * - `COMBINED_TAIL`: ` "referer" "agent"` and nothing after (Apache's combined);
 * - `AUTO_TAIL`: nothing, or a space and a quoted field (combined's referer, and whatever a
 *   server adds after the agent: nginx's packaged `main` format appends
 *   `"$http_x_forwarded_for"`). Anything else there (`200 5 junk`) was taken as valid.
 */
export const COMMON_TAIL = 0;
export const COMBINED_TAIL = 1;
export const AUTO_TAIL = 2;
export type Tail = typeof COMMON_TAIL | typeof COMBINED_TAIL | typeof AUTO_TAIL;

/**
 * Parses an Apache/nginx access-log line in combined or common format
 * (`host ident user [time] "request" status size ["referer" "agent"]`) in `buf[start, end)`
 * and finds the URL, the request's second white-space token. Returns false for a line
 * that is not such a line or whose request has no URL (a parse error). `logFormat = auto`.
 */
export function findUrl(buf: Buffer, start: number, end: number, out: UrlRange): boolean {
  return findUrlWith(buf, start, end, out, AUTO_TAIL);
}

/** `logFormat = common`: the line ends after the size. */
export function findUrlCommon(buf: Buffer, start: number, end: number, out: UrlRange): boolean {
  return findUrlWith(buf, start, end, out, COMMON_TAIL);
}

/** `logFormat = combined`: the line ends after the quoted referer and agent. */
export function findUrlCombined(buf: Buffer, start: number, end: number, out: UrlRange): boolean {
  return findUrlWith(buf, start, end, out, COMBINED_TAIL);
}

function findUrlWith(buf: Buffer, start: number, end: number, out: UrlRange, tail: Tail): boolean {
  // host, ident, user: three tokens, each followed by one space
  let p = start;
  for (let t = 0; t < 3; t++) {
    const tokenStart = p;
    while (p < end && buf[p] !== SP) p++;
    if (p === tokenStart || p >= end) return false;
    p++;
  }
  if (buf[p] !== LBRACKET) return false;
  const timeStart = p + 1;
  const close = buf.indexOf(RBRACKET, p);
  if (close < 0 || close + 2 >= end || buf[close + 1] !== SP || buf[close + 2] !== QUOTE) return false;
  const reqStart = close + 3;
  // The request ends at the first quote not escaped by a backslash (Apache escapes them)
  // that is followed by ` status size`. A raw quote inside the request (`"GET /x?y="z"
  // HTTP/1.0"`, old Apache, hand-made logs) is passed over, as the seed's lazy regex
  // `"(.*?)" (\d{3}) (\S+)` does. A normal line's first quote is the one: no extra cost.
  let q = reqStart;
  for (;;) {
    q = buf.indexOf(QUOTE, q);
    if (q < 0 || q >= end) return false;
    if (buf[q - 1] !== BACKSLASH && statusAndSize(buf, q + 1, end, tail)) break;
    q++;
  }
  if (!requestUrl(buf, reqStart, q, out)) return false;
  out.timeStart = timeStart;
  out.timeEnd = close;
  return true;
}

/** The URL of a request line `buf[start, end)`: its second white-space token. */
export function requestUrl(buf: Buffer, start: number, end: number, out: UrlRange): boolean {
  let p = start;
  while (p < end && buf[p] !== SP) p++;
  if (p === start) return false;
  while (p < end && buf[p] === SP) p++;
  const urlStart = p;
  while (p < end && buf[p] !== SP) p++;
  if (p === urlStart) return false;
  out.start = urlStart;
  out.end = p;
  return true;
}

/** ` 200 1234` or ` 200 -`, then what the format lets follow (`tail`). */
function statusAndSize(buf: Buffer, p: number, end: number, tail: Tail): boolean {
  if (p + 4 > end || buf[p] !== SP) return false;
  p++;
  const statusStart = p;
  while (p < end && isDigit(buf[p]!)) p++;
  if (p - statusStart !== 3 || p >= end || buf[p] !== SP) return false;
  p++;
  if (p >= end) return false;
  if (buf[p] === DASH) p++;
  else {
    const sizeStart = p;
    while (p < end && isDigit(buf[p]!)) p++;
    if (p === sizeStart) return false;
  }
  if (p === end) return tail !== COMBINED_TAIL;
  if (tail === COMMON_TAIL || buf[p] !== SP || p + 1 >= end || buf[p + 1] !== QUOTE) return false;
  if (tail === AUTO_TAIL) return true;
  // Combined: ` "referer" "agent"`, each to its first unescaped quote, then the end.
  p = quotedEnd(buf, p + 2, end);
  if (p < 0 || p + 2 >= end || buf[p] !== SP || buf[p + 1] !== QUOTE) return false;
  return quotedEnd(buf, p + 2, end) === end;
}

/** After the opening quote at `p - 1`: the offset just past its closing quote (unescaped), or -1. */
function quotedEnd(buf: Buffer, p: number, end: number): number {
  for (;;) {
    const q = buf.indexOf(QUOTE, p);
    if (q < 0 || q >= end) return -1;
    if (buf[q - 1] !== BACKSLASH) return q + 1;
    p = q + 1;
  }
}

function isDigit(b: number): boolean {
  return b >= 48 && b <= 57;
}

/** String convenience for tests and tools: the URL of a line, or undefined. */
export function urlOf(line: string): string | undefined {
  const buf = Buffer.from(line, 'utf8');
  const out = { start: 0, end: 0 };
  return findUrl(buf, 0, buf.length, out) ? buf.toString('utf8', out.start, out.end) : undefined;
}
