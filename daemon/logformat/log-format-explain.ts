import { AUTO_TAIL, COMBINED_TAIL, COMMON_TAIL, type Tail } from './access-log.js';
import { formatItems, type Item } from './log-format.js';
import { JSON_FORMATS, jsonFields, type JsonFormat } from './json-format.js';

/**
 * Why a line does not parse: `logflow check` and `/api/files/:name/check` show it with a
 * caret. This is a second, slower walk over the line, kept apart from the parsers in
 * `access-log.ts` and `log-format.ts` so that the hot path stays as it is; a property test
 * (`test/log-format-explain.test.ts`) holds the two to the same answer on every line.
 */
export interface ParseFailure {
  /** Offset of the byte where parsing stopped, from the line's start (may be its length: the line ended). */
  readonly at: number;
  /** The field expected there (`status`, `%>s`, `$request`). */
  readonly field: string;
  /** What that field wanted, e.g. `expected 3 digits`. */
  readonly expected: string;
}

/** Explains `buf[start, end)` under a format: undefined when it parses. */
export type LineExplainer = (buf: Buffer, start: number, end: number) => ParseFailure | undefined;

/** The explainer of a `logFormat` value (the same values the conf and `--log-format` take), with a JSON format's `fields`. */
export function compileExplainer(format: string, fields: Readonly<Record<string, string>> = {}): LineExplainer {
  if (JSON_FORMATS.includes(format as JsonFormat)) return explainJson(jsonFields(format as JsonFormat, fields));
  const tail = format === 'auto' ? AUTO_TAIL : format === 'common' ? COMMON_TAIL : format === 'combined' ? COMBINED_TAIL : undefined;
  if (tail !== undefined) return (buf, start, end) => explainCombined(buf, start, start, end, tail);
  if (format === 'vhost_combined') {
    return (buf, start, end) => {
      const sp = buf.indexOf(SP, start);
      if (sp < 0 || sp >= end) return fail(start, end, 'vhost', 'expected host:port and a space');
      return explainCombined(buf, start, sp + 1, end, COMBINED_TAIL);
    };
  }
  const items = formatItems(format);
  return (buf, start, end) => explainItems(items, buf, start, end);
}

function fail(lineStart: number, at: number, field: string, expected: string): ParseFailure {
  return { at: at - lineStart, field, expected };
}

/** The bytes of the grammar (access-log.ts keeps its own as plain module constants: its hot loop reads them). */
const [SP, QUOTE, BACKSLASH, LBRACKET, RBRACKET, DASH] = Buffer.from(' "\\[]-') as unknown as [number, number, number, number, number, number];

const isDigit = (b: number | undefined) => b !== undefined && b >= 48 && b <= 57;

/**
 * A walk that stopped: why (undefined when the rest matched) and how far it matched. When a
 * request could end at several quotes and none fits, the one whose rest got furthest is
 * reported: a raw quote inside the request (`"GET /x?y="z" HTTP/1.0" 20 5`) or a quote of
 * the referer does not hide the status that is wrong.
 */
interface Attempt {
  readonly why: ParseFailure | undefined;
  /** Where the attempt began (after the quote it tried) and where its match stopped. */
  readonly from: number;
  readonly reached: number;
  /** The status and the size matched; what followed them did not. */
  readonly afterSize?: boolean;
}

/** Keeps the better of two failed attempts: the one that matched more; the first on a tie. */
const further = (best: Attempt | undefined, next: Attempt) => (best && best.reached - best.from >= next.reached - next.from ? best : next);

/** `host ident user [time] "request" status size ["referer" "agent"]`, field by field; `tail`: what may follow the size. */
function explainCombined(buf: Buffer, line: number, start: number, end: number, tail: Tail): ParseFailure | undefined {
  let p = start;
  for (const field of ['host', 'ident', 'user']) {
    const tokenStart = p;
    while (p < end && buf[p] !== SP) p++;
    if (p === tokenStart) return fail(line, p, field, p >= end ? 'expected a token, the line ended' : 'expected a token, not a space');
    if (p >= end) return fail(line, p, field, 'expected a space after it, the line ended');
    p++;
  }
  if (buf[p] !== LBRACKET) return fail(line, p, 'time', 'expected [');
  const close = buf.indexOf(RBRACKET, p);
  if (close < 0 || close >= end) return fail(line, end, 'time', 'expected ], the line ended');
  if (close + 1 >= end || buf[close + 1] !== SP) return fail(line, close + 1, 'time', 'expected a space after ]');
  if (close + 2 >= end || buf[close + 2] !== QUOTE) return fail(line, close + 2, 'request', 'expected "');
  const reqStart = close + 3;
  // As access-log.ts: the request ends at the first unescaped quote followed by a status and a size.
  let best: Attempt | undefined;
  for (let q = buf.indexOf(QUOTE, reqStart); q >= 0 && q < end; q = buf.indexOf(QUOTE, q + 1)) {
    if (buf[q - 1] === BACKSLASH) continue;
    let rest = explainStatusAndSize(buf, line, q + 1, end, tail);
    if (!rest.why) return explainRequest(buf, line, reqStart, q, 'request');
    // A status and a size, then not what the format lets follow: a request without a URL,
    // earlier in the line, is the fault to show first.
    const request = rest.afterSize ? explainRequest(buf, line, reqStart, q, 'request') : undefined;
    if (request) rest = { ...rest, why: request };
    best = further(best, rest);
  }
  return best ? best.why : fail(line, end, 'request', 'expected a closing ", the line ended');
}

/** `METHOD URL [PROTOCOL]`: the URL is the second token. */
function explainRequest(buf: Buffer, line: number, start: number, end: number, field: string): ParseFailure | undefined {
  let p = start;
  while (p < end && buf[p] !== SP) p++;
  if (p === start) return fail(line, start, field, 'expected a method (GET, POST...)');
  while (p < end && buf[p] === SP) p++;
  if (p >= end || buf[p] === SP) return fail(line, p, 'url', 'expected a URL after the method');
  return undefined;
}

/** ` 200 1234` or ` 200 -` at `from`, then what `tail` lets follow (access-log.ts). */
function explainStatusAndSize(buf: Buffer, line: number, from: number, end: number, tail: Tail): Attempt {
  let p = from;
  const stop = (at: number, field: string, expected: string): Attempt => ({ why: fail(line, at, field, expected), from, reached: p });
  if (p >= end || buf[p] !== SP) return stop(p, 'status', 'expected a space, then 3 digits');
  p++;
  const statusStart = p;
  p += digitsAt(buf, p, end);
  if (p - statusStart !== 3) return stop(statusStart, 'status', 'expected 3 digits');
  if (p >= end || buf[p] !== SP) return stop(p, 'size', 'expected a space, then digits or -');
  p++;
  if (p >= end) return stop(p, 'size', 'expected digits or -, the line ended');
  if (buf[p] === DASH) p++;
  else {
    const sizeStart = p;
    p += digitsAt(buf, p, end);
    if (p === sizeStart) return stop(p, 'size', 'expected digits or -');
  }
  const done: Attempt = { why: undefined, from, reached: p };
  const stopAfterSize = (at: number, field: string, expected: string): Attempt => ({ ...stop(at, field, expected), afterSize: true });
  if (p === end) return tail === COMBINED_TAIL ? stopAfterSize(p, 'referer', 'expected a space and a quoted referer, the line ended (combined format)') : done;
  if (tail === COMMON_TAIL) return stopAfterSize(p, 'end of line', 'expected the end of the line after the size (common format)');
  if (buf[p] !== SP) return stopAfterSize(p, 'size', tail === AUTO_TAIL ? 'expected the end of the line or a space after it' : 'expected a space after it');
  p++;
  if (p >= end) return stopAfterSize(p, 'referer', 'expected a quoted referer, the line ended');
  if (buf[p] !== QUOTE) return stopAfterSize(p, 'referer', tail === AUTO_TAIL ? 'expected the end of the line after the size, or a quoted referer' : 'expected " (a quoted referer)');
  if (tail === AUTO_TAIL) return { why: undefined, from, reached: p };
  const refererEnd = closingQuote(buf, p + 1, end);
  if (refererEnd < 0) return stopAfterSize(end, 'referer', 'expected a closing ", the line ended');
  p = refererEnd;
  if (p >= end) return stopAfterSize(p, 'agent', 'expected a space and a quoted agent, the line ended');
  if (buf[p] !== SP) return stopAfterSize(p, 'agent', 'expected a space after the referer');
  p++;
  if (p >= end || buf[p] !== QUOTE) return stopAfterSize(p, 'agent', `expected " (a quoted agent)${p >= end ? ', the line ended' : ''}`);
  const agentEnd = closingQuote(buf, p + 1, end);
  if (agentEnd < 0) return stopAfterSize(end, 'agent', 'expected a closing ", the line ended');
  p = agentEnd;
  if (p !== end) return stopAfterSize(p, 'end of line', 'expected the end of the line after the agent (combined format)');
  return { why: undefined, from, reached: p };
}

/** After an opening quote (`p` is the byte after it): the offset just past its unescaped closing quote, or -1. */
function closingQuote(buf: Buffer, p: number, end: number): number {
  for (let q = buf.indexOf(QUOTE, p); q >= 0 && q < end; q = buf.indexOf(QUOTE, q + 1)) {
    if (buf[q - 1] !== BACKSLASH) return q + 1;
  }
  return -1;
}

/**
 * A format string's items, matched as `compileItems` in log-format.ts matches them: a quoted
 * request ends at the first unescaped quote after which the rest matches; a status that is
 * not the last field is 3 digits.
 */
function explainItems(items: readonly Item[], buf: Buffer, start: number, end: number): ParseFailure | undefined {
  const needsUrl = items.some((it) => 'field' in it && (it.field === 'request' || it.field === 'url'));
  /**
   * Items from `i` on, at `p`. `found`: a URL was taken; `noUrl`: why the request or URL
   * field gave none (reported at the end if no later field gives one).
   */
  const walk = (i: number, p: number, found: boolean, noUrl: ParseFailure | undefined, previous: string): Attempt => {
    const from = p;
    const stop = (at: number, field: string, expected: string, reached = p): Attempt => ({ why: fail(start, at, field, expected), from, reached });
    for (; i < items.length; i++) {
      const item = items[i]!;
      if ('literal' in item) {
        const lit = item.literal;
        for (let k = 0; k < lit.length; k++) {
          if (p + k >= end || buf[p + k] !== lit[k]) {
            return stop(p + k, `after ${previous}`, `expected ${JSON.stringify(lit.toString('utf8'))}${p + k >= end ? ', the line ended' : ''}`, p + k);
          }
        }
        p += lit.length;
        continue;
      }
      const next = items[i + 1];
      const prev = items[i - 1];
      const until = next && 'literal' in next ? next.literal : undefined;
      const quoted = until?.[0] === QUOTE && prev !== undefined && 'literal' in prev && prev.literal.at(-1) === QUOTE;
      const fieldStart = p;
      if (item.field === 'time' && buf[p] === LBRACKET) {
        const close = buf.indexOf(RBRACKET, p);
        if (close < 0 || close >= end) return stop(end, item.name, 'expected ], the line ended');
        p = close + 1;
      } else if (quoted && item.field === 'request') {
        let best: Attempt | undefined;
        for (let q = p; q < end; q++) {
          if (buf[q] !== QUOTE || buf[q - 1] === BACKSLASH) continue;
          const why = explainRequest(buf, start, fieldStart, q, item.name);
          const rest = walk(i + 1, q, why === undefined, noUrl ?? why, item.name);
          if (!rest.why) return rest;
          best = further(best, rest);
        }
        return best ? { ...best, from } : stop(end, item.name, 'expected a closing ", the line ended');
      } else if (!until) {
        p = end;
      } else if (quoted) {
        for (; p < end; p++) if (buf[p] === QUOTE && buf[p - 1] !== BACKSLASH) break;
        if (p >= end) return stop(end, item.name, 'expected a closing ", the line ended', fieldStart);
      } else {
        const at = buf.indexOf(until, p);
        if (at < 0 || at + until.length > end) return stop(end, item.name, `expected ${JSON.stringify(until.toString('utf8'))} after it, the line ended`);
        p = at;
        const digits = item.field === 'status' ? digitsAt(buf, fieldStart, p) : 0;
        if (item.field === 'status' && (digits !== 3 || p - fieldStart !== 3)) return stop(fieldStart, item.name, 'expected 3 digits', fieldStart + digits);
      }
      if (item.field === 'request') {
        const why = explainRequest(buf, start, fieldStart, p, item.name);
        found = why === undefined;
        noUrl ??= why;
      } else if (item.field === 'url' && !found) {
        found = p > fieldStart && buf[fieldStart] !== DASH;
        if (!found) noUrl ??= fail(start, fieldStart, item.name, 'expected a URL, not - or nothing');
      }
      previous = item.name;
    }
    if (!found && needsUrl) return { why: noUrl ?? fail(start, p, 'url', 'expected a URL'), from, reached: p };
    if (p !== end) return stop(p, `after ${previous}`, 'expected the end of the line');
    return { why: undefined, from, reached: p };
  };
  return walk(0, start, false, undefined, 'the line start').why;
}

/** How many digits `buf[start, end)` starts with. */
function digitsAt(buf: Buffer, start: number, end: number): number {
  let p = start;
  while (p < end && isDigit(buf[p])) p++;
  return p - start;
}

/**
 * A JSON line, read by `JSON.parse` (the reference the fast parser in json-format.ts is
 * held to by a property test): not JSON, not an object, or without the URL the format maps.
 */
function explainJson(fields: Readonly<Record<string, string>>): LineExplainer {
  return (buf, start, end) => {
    const text = buf.toString('utf8', start, end);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      const message = (err as Error).message;
      const position = /at position (\d+)/.exec(message);
      const at = position ? Buffer.byteLength(text.slice(0, Number(position[1]))) : end - start;
      return { at, field: 'json', expected: `JSON: ${message.replace(/ in JSON at position \d+.*$/s, '').replace(/, ".*" is not valid JSON$/s, '')}` };
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return { at: 0, field: 'json', expected: 'a JSON object ({...})' };
    if (fields.url !== undefined && jsonValueAt(value, fields.url) === undefined) {
      return { at: end - start, field: 'url', expected: `the URL field ${fields.url} (fields.url): it is missing, null or empty` };
    }
    return undefined;
  };
}

/**
 * The value a path (`a.b|c`) names in a parsed JSON object, as the fast parser reads it: a
 * string, a number or a boolean as text, an array's first element; undefined when missing,
 * null, empty, or an object.
 */
export function jsonValueAt(root: unknown, spec: string): string | undefined {
  for (const path of spec.split('|')) {
    let v: unknown = root;
    for (const key of path.trim().split('.')) {
      v = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[key] : undefined;
    }
    if (Array.isArray(v)) v = v[0];
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  }
  return undefined;
}
