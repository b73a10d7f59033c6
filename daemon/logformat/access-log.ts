import { FIELD, LineFields, MISSING, statusAt } from './line-fields.js';

const SP = 32;
const QUOTE = 34;
const BACKSLASH = 92;
const LBRACKET = 91;
const RBRACKET = 93;
const DASH = 45;

export type { UrlRange } from './line-fields.js';

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
 * into `out`: the URL (the request's second white-space token), the method, client, user,
 * time, status, size, and for combined lines the referer and agent. Returns false for a
 * line that is not such a line or whose request has no URL (a parse error). `logFormat = auto`.
 */
export function findUrl(buf: Buffer, start: number, end: number, out: LineFields): boolean {
  return findUrlWith(buf, start, end, out, AUTO_TAIL);
}

/** `logFormat = common`: the line ends after the size. */
export function findUrlCommon(buf: Buffer, start: number, end: number, out: LineFields): boolean {
  return findUrlWith(buf, start, end, out, COMMON_TAIL);
}

/** `logFormat = combined`: the line ends after the quoted referer and agent. */
export function findUrlCombined(buf: Buffer, start: number, end: number, out: LineFields): boolean {
  return findUrlWith(buf, start, end, out, COMBINED_TAIL);
}

function findUrlWith(buf: Buffer, start: number, end: number, out: LineFields, tail: Tail): boolean {
  // host, ident, user: three tokens, each followed by one space
  let p = start;
  let hostEnd = 0;
  let userStart = 0;
  for (let t = 0; t < 3; t++) {
    const tokenStart = p;
    while (p < end && buf[p] !== SP) p++;
    if (p === tokenStart || p >= end) return false;
    if (t === 0) hostEnd = p;
    else if (t === 2) userStart = tokenStart;
    p++;
  }
  const userEnd = p - 1;
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
  let sizeEnd: number;
  for (;;) {
    q = buf.indexOf(QUOTE, q);
    if (q < 0 || q >= end) return false;
    if (buf[q - 1] !== BACKSLASH && (sizeEnd = statusAndSize(buf, q + 1, end, tail)) > 0) break;
    q++;
  }
  if (!requestUrl(buf, reqStart, q, out)) return false;
  out.timeStart = timeStart;
  out.timeEnd = close;
  out.timeIso = false;
  out.set(FIELD.client, buf, start, hostEnd);
  out.set(FIELD.user, buf, userStart, userEnd);
  out.status = statusAt(buf, q + 2);
  out.set(FIELD.status, buf, q + 2, q + 5);
  out.bytes = sizeOf(buf, q + 6, sizeEnd);
  refererAndAgent(buf, sizeEnd, end, out);
  return true;
}

/**
 * Combined's ` "referer" "agent"` after the size, as the regex `"(.*?)" "(.*)"$` reads
 * them: the referer ends at the first unescaped `" "`, the agent at the line's last quote.
 * Anything else after the size (common lines, extra fields) leaves both missing (`-`).
 */
function refererAndAgent(buf: Buffer, p: number, end: number, out: LineFields): void {
  if (p + 5 <= end && buf[p] === SP && buf[p + 1] === QUOTE && buf[end - 1] === QUOTE) {
    for (let r = p + 2; r + 2 < end - 1; r++) {
      if (buf[r] === QUOTE && buf[r - 1] !== BACKSLASH && buf[r + 1] === SP && buf[r + 2] === QUOTE) {
        out.set(FIELD.referrer, buf, p + 2, r);
        out.set(FIELD.agent, buf, r + 3, end - 1);
        return;
      }
    }
  }
  out.set(FIELD.referrer, MISSING, 0, 1);
  out.set(FIELD.agent, MISSING, 0, 1);
}

/** The URL of a request line `buf[start, end)`, its second white-space token; its method, the first. */
export function requestUrl(buf: Buffer, start: number, end: number, out: LineFields): boolean {
  let p = start;
  while (p < end && buf[p] !== SP) p++;
  if (p === start) return false;
  const methodEnd = p;
  while (p < end && buf[p] === SP) p++;
  const urlStart = p;
  while (p < end && buf[p] !== SP) p++;
  if (p === urlStart) return false;
  out.start = urlStart;
  out.end = p;
  out.set(FIELD.url, buf, urlStart, p);
  out.set(FIELD.method, buf, start, methodEnd);
  return true;
}

/** ` 200 1234` or ` 200 -`, then what the format lets follow (`tail`): the position after the size, or -1. */
function statusAndSize(buf: Buffer, p: number, end: number, tail: Tail): number {
  if (p + 4 > end || buf[p] !== SP) return -1;
  p++;
  const statusStart = p;
  while (p < end && isDigit(buf[p]!)) p++;
  if (p - statusStart !== 3 || p >= end || buf[p] !== SP) return -1;
  p++;
  if (p >= end) return -1;
  if (buf[p] === DASH) p++;
  else {
    const sizeStart = p;
    while (p < end && isDigit(buf[p]!)) p++;
    if (p === sizeStart) return -1;
  }
  const sizeEnd = p;
  if (p === end) return tail !== COMBINED_TAIL ? sizeEnd : -1;
  if (tail === COMMON_TAIL || buf[p] !== SP || p + 1 >= end || buf[p + 1] !== QUOTE) return -1;
  if (tail === AUTO_TAIL) return sizeEnd;
  // Combined: ` "referer" "agent"`, each to its first unescaped quote, then the end.
  p = quotedEnd(buf, p + 2, end);
  if (p < 0 || p + 2 >= end || buf[p] !== SP || buf[p + 1] !== QUOTE) return -1;
  return quotedEnd(buf, p + 2, end) === end ? sizeEnd : -1;
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

/** Digits (checked by statusAndSize) as a number; `-` as 0. A size past 2^53 is not exact, but no response is that large. */
function sizeOf(buf: Buffer, p: number, end: number): number {
  let v = 0;
  for (; p < end; p++) {
    const b = buf[p]!;
    if (b === DASH) return 0;
    v = v * 10 + (b - 48);
  }
  return v;
}

function isDigit(b: number): boolean {
  return b >= 48 && b <= 57;
}

/** String convenience for tests and tools: the URL of a line, or undefined. */
export function urlOf(line: string): string | undefined {
  const buf = Buffer.from(line, 'utf8');
  const out = new LineFields();
  return findUrl(buf, 0, buf.length, out) ? buf.toString('utf8', out.start, out.end) : undefined;
}
