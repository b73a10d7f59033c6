import { formatItems, type Item } from './log-format.js';

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

/** The explainer of a `logFormat` value (the same values the conf and `--log-format` take). */
export function compileExplainer(format: string): LineExplainer {
  if (format === 'auto' || format === 'combined' || format === 'common') return (buf, start, end) => explainCombined(buf, start, start, end);
  if (format === 'vhost_combined') {
    return (buf, start, end) => {
      const sp = buf.indexOf(SP, start);
      if (sp < 0 || sp >= end) return fail(start, end, 'vhost', 'expected host:port and a space');
      return explainCombined(buf, start, sp + 1, end);
    };
  }
  const items = formatItems(format);
  return (buf, start, end) => explainItems(items, buf, start, end);
}

function fail(lineStart: number, at: number, field: string, expected: string): ParseFailure {
  return { at: at - lineStart, field, expected };
}

/** The bytes of the grammar (access-log.ts keeps its own as plain module constants: its hot loop reads them). */
const [SP, QUOTE, BACKSLASH, LBRACKET, RBRACKET, DASH] = Buffer.from(' "\\[]-') as unknown as number[];

const isDigit = (b: number | undefined) => b !== undefined && b >= 48 && b <= 57;

/** `host ident user [time] "request" status size ["referer" "agent"]`, field by field. */
function explainCombined(buf: Buffer, line: number, start: number, end: number): ParseFailure | undefined {
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
  let q = reqStart;
  for (;;) {
    q = buf.indexOf(QUOTE, q);
    if (q < 0 || q >= end) return fail(line, end, 'request', 'expected a closing ", the line ended');
    if (buf[q - 1] !== BACKSLASH) break;
    q++;
  }
  const request = explainRequest(buf, line, reqStart, q, 'request');
  if (request) return request;
  return explainStatusAndSize(buf, line, q + 1, end);
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

function explainStatusAndSize(buf: Buffer, line: number, p: number, end: number): ParseFailure | undefined {
  if (p >= end || buf[p] !== SP) return fail(line, p, 'status', 'expected a space, then 3 digits');
  p++;
  const statusStart = p;
  while (p < end && isDigit(buf[p])) p++;
  if (p - statusStart !== 3) return fail(line, statusStart, 'status', 'expected 3 digits');
  if (p >= end || buf[p] !== SP) return fail(line, p, 'size', 'expected a space, then digits or -');
  p++;
  if (p >= end) return fail(line, p, 'size', 'expected digits or -, the line ended');
  if (buf[p] === DASH) p++;
  else {
    const sizeStart = p;
    while (p < end && isDigit(buf[p])) p++;
    if (p === sizeStart) return fail(line, p, 'size', 'expected digits or -');
  }
  if (p !== end && buf[p] !== SP) return fail(line, p, 'size', 'expected the end of the line or a space after it');
  return undefined;
}

/** A format string's items, matched as `compileItems` in log-format.ts matches them. */
function explainItems(items: readonly Item[], buf: Buffer, start: number, end: number): ParseFailure | undefined {
  let p = start;
  let found = false;
  /** Why the request or URL field gave no URL: reported at the end if no later field gives one. */
  let noUrl: ParseFailure | undefined;
  let previous = 'the line start';
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if ('literal' in item) {
      const lit = item.literal;
      for (let k = 0; k < lit.length; k++) {
        if (p + k >= end || buf[p + k] !== lit[k]) {
          return fail(start, p + k, `after ${previous}`, `expected ${JSON.stringify(lit.toString('utf8'))}${p + k >= end ? ', the line ended' : ''}`);
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
      if (close < 0 || close >= end) return fail(start, end, item.name, 'expected ], the line ended');
      p = close + 1;
    } else if (!until) {
      p = end;
    } else if (quoted) {
      for (; p < end; p++) if (buf[p] === QUOTE && buf[p - 1] !== BACKSLASH) break;
      if (p >= end) return fail(start, end, item.name, 'expected a closing ", the line ended');
    } else {
      const at = buf.indexOf(until, p);
      if (at < 0 || at + until.length > end) return fail(start, end, item.name, `expected ${JSON.stringify(until.toString('utf8'))} after it, the line ended`);
      p = at;
    }
    if (item.field === 'request') {
      const why = explainRequest(buf, start, fieldStart, p, item.name);
      found = why === undefined;
      if (why) noUrl ??= why;
    } else if (item.field === 'url' && !found) {
      found = p > fieldStart && buf[fieldStart] !== DASH;
      if (!found) noUrl ??= fail(start, fieldStart, item.name, 'expected a URL, not - or nothing');
    }
    previous = item.name;
  }
  if (!found) return noUrl ?? fail(start, p, 'url', 'the format has no URL field');
  if (p !== end) return fail(start, p, `after ${previous}`, 'expected the end of the line');
  return undefined;
}
