import { findUrl, findUrlCombined, findUrlCommon, requestUrl, type UrlRange } from './access-log.js';
import { LogflowError } from '../errors.js';

/** Finds the URL of the line `buf[start, end)` into `out`; false for a parse error. */
export type UrlParser = (buf: Buffer, start: number, end: number, out: UrlRange) => boolean;

export const NAMED_FORMATS = ['auto', 'combined', 'common', 'vhost_combined'] as const;

/** Apache's definitions of the named formats (nginx's default `combined` is the same). */
const APACHE_FORMATS: Record<string, string> = {
  combined: '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"',
  common: '%h %l %u %t "%r" %>s %b',
  vhost_combined: '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
};

const SP = 32;
const QUESTION = 63;

/**
 * A parser for `logFormat`: a named format, an Apache `LogFormat` string
 * (`%h %l %u %t "%r" %>s %b ...`) or an nginx `log_format` string (`$remote_addr - ...`).
 * The URL is the request's second token (`%r`, `$request`) or the path (`%U`, `$uri`,
 * `$request_uri`). With `stripQueryString`, `/a?x=1` counts as `/a`. Throws on a format
 * with no URL in it.
 */
export function compileUrlParser(format: string, stripQueryString: boolean): UrlParser {
  const base = compileBase(format);
  if (!stripQueryString) return base;
  return (buf, start, end, out) => {
    if (!base(buf, start, end, out)) return false;
    const q = buf.indexOf(QUESTION, out.start);
    if (q >= 0 && q < out.end) out.end = q;
    return true;
  };
}

/**
 * Compiled parsers of this thread, by format: the config check, the sources' line check and
 * the counter ask for the same format, and a parser is a pure function (see
 * url-window-config.ts urlParserOf() for why each thread compiles its own).
 */
const compiled = new Map<string, UrlParser>();

function compileBase(format: string): UrlParser {
  let parser = compiled.get(format);
  if (!parser) {
    parser = compileFormat(format);
    compiled.set(format, parser);
  }
  return parser;
}

function compileFormat(format: string): UrlParser {
  // The named formats have hand-written parsers (the fastest); each ends the line where
  // its definition does (access-log.ts, the tails).
  if (format === 'auto') return findUrl;
  if (format === 'combined') return findUrlCombined;
  if (format === 'common') return findUrlCommon;
  if (format === 'vhost_combined') {
    // One more leading token (`host:port`), then the combined line.
    return (buf, start, end, out) => {
      const sp = buf.indexOf(SP, start);
      return sp >= 0 && sp < end && findUrlCombined(buf, sp + 1, end, out);
    };
  }
  return compileItems(formatItems(format), format);
}

/** A format string's items, adjacent fields merged: what the parser matches, left to right. */
export function formatItems(format: string): Item[] {
  return mergeAdjacentFields(format.includes('%') ? apacheItems(format) : nginxItems(format));
}

export type Field = 'request' | 'url' | 'time' | 'status' | 'other';
/** A literal, or a field with the directive it came from (`%>s`, `$status`): for messages. */
export type Item = { readonly literal: Buffer } | { readonly field: Field; readonly name: string };

/** `%h`, `%>s`, `%{Referer}i`, `%{%d/%b}t`: a directive is `%`, modifiers, `{...}`, a letter. */
function apacheItems(format: string): Item[] {
  const items: Item[] = [];
  let literal = '';
  for (let i = 0; i < format.length; i++) {
    const c = format[i]!;
    if (c !== '%') {
      literal += c;
      continue;
    }
    if (format[i + 1] === '%') {
      literal += '%';
      i++;
      continue;
    }
    let j = i + 1;
    while (j < format.length && /[<>!,0-9]/.test(format[j]!)) j++;
    if (format[j] === '{') j = format.indexOf('}', j) + 1;
    const letter = format[j];
    if (!letter || j === 0) throw new LogflowError('LF_LOG_FORMAT', `unfinished directive at position ${i} of the LogFormat`);
    if (literal) items.push({ literal: Buffer.from(literal) });
    literal = '';
    const braced = format[i + 1] === '{' || format.slice(i + 1, j).includes('{');
    items.push({ field: letter === 'r' ? 'request' : letter === 'U' ? 'url' : letter === 't' && !braced ? 'time' : letter === 's' ? 'status' : 'other', name: format.slice(i, j + 1) });
    i = j;
  }
  if (literal) items.push({ literal: Buffer.from(literal) });
  return items;
}

/** `$remote_addr - $remote_user [$time_local] "$request" ...`. */
function nginxItems(format: string): Item[] {
  const items: Item[] = [];
  const re = /\$(\{[a-zA-Z0-9_]+\}|[a-zA-Z0-9_]+)/g;
  let last = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) {
    if (m.index > last) items.push({ literal: Buffer.from(format.slice(last, m.index)) });
    const name = m[1]!.replace(/[{}]/g, '');
    items.push({ field: name === 'request' ? 'request' : name === 'request_uri' || name === 'uri' ? 'url' : name === 'time_local' ? 'time' : name === 'status' ? 'status' : 'other', name: m[0] });
    last = m.index + m[0].length;
  }
  if (last < format.length) items.push({ literal: Buffer.from(format.slice(last)) });
  return items;
}

/**
 * Matches the items left to right: a literal must be there byte for byte; a field runs
 * to where the next literal is (a field between quotes runs to the next unescaped quote;
 * Apache's `%t` is the bracketed time; a last field takes the rest of the line).
 */
function compileItems(items: readonly Item[], format: string): UrlParser {
  if (!items.some((it) => 'field' in it && (it.field === 'request' || it.field === 'url'))) {
    throw new LogflowError('LF_LOG_FORMAT', `the format ${JSON.stringify(format)} has no request (%r, $request) or URL (%U, $uri, $request_uri)`);
  }
  const steps = items.map((item, i) => {
    if ('literal' in item) return { literal: item.literal, field: undefined, until: undefined, quoted: false };
    const next = items[i + 1];
    const prev = items[i - 1];
    const until = next && 'literal' in next ? next.literal : undefined;
    const quoted = until?.[0] === 34 && prev !== undefined && 'literal' in prev && prev.literal.at(-1) === 34;
    return { literal: undefined, field: item.field, until, quoted };
  });
  const last = steps.length;
  // Items from `i` on, at `p`; true when they all match to the line's end and a URL was found.
  // A quoted request ends at the first unescaped quote after which the rest matches, so a raw
  // quote inside it (`"GET /x?y="z" HTTP/1.0"`) is passed over, as a regex would.
  const match = (buf: Buffer, i: number, p: number, end: number, out: UrlRange, found: boolean): boolean => {
    for (; i < last; i++) {
      const step = steps[i]!;
      if (step.literal) {
        const lit = step.literal;
        if (end - p < lit.length) return false;
        for (let k = 0; k < lit.length; k++) if (buf[p + k] !== lit[k]) return false;
        p += lit.length;
        continue;
      }
      const fieldStart = p;
      if (step.field === 'time' && buf[p] === 91) {
        const close = buf.indexOf(93, p);
        if (close < 0 || close >= end) return false;
        out.timeStart = p + 1;
        out.timeEnd = close;
        p = close + 1;
        continue;
      }
      if (step.quoted && step.field === 'request') {
        for (let q = p; q < end; q++) {
          if (buf[q] === 34 && buf[q - 1] !== 92 && match(buf, i + 1, q, end, out, field(buf, 'request', fieldStart, q, out, found))) return true;
        }
        return false;
      }
      if (step.quoted) {
        // Other quoted fields (referer, agent) end at the first unescaped quote: trying every
        // quote of every field would be exponential on a line full of quotes.
        for (; p < end; p++) if (buf[p] === 34 && buf[p - 1] !== 92) break;
        if (p >= end) return false;
        found = field(buf, step.field, fieldStart, p, out, found);
        continue;
      }
      // An unquoted field runs to where the whole next literal is (a field may hold spaces);
      // a last field takes the rest of the line.
      if (!step.until) p = end;
      else {
        p = buf.indexOf(step.until, p);
        if (p < 0 || p + step.until.length > end) return false;
      }
      // A status (not the last field) is 3 digits: what tells the request's closing quote from a raw one inside it.
      if (step.field === 'status' && step.until && !isStatus(buf, fieldStart, p)) return false;
      // nginx's `$time_local` between literal brackets.
      if (step.field === 'time') {
        out.timeStart = fieldStart;
        out.timeEnd = p;
      }
      found = field(buf, step.field, fieldStart, p, out, found);
    }
    return found && p === end;
  };
  return (buf, start, end, out) => {
    out.timeStart = -1;
    return match(buf, 0, start, end, out, false);
  };
}

function isStatus(buf: Buffer, start: number, end: number): boolean {
  if (end - start !== 3) return false;
  for (let k = start; k < end; k++) if (buf[k]! < 48 || buf[k]! > 57) return false;
  return true;
}

/** Takes the URL from a request or URL field `buf[start, end)`; `found` says one was taken before. */
function field(buf: Buffer, kind: Field | undefined, start: number, end: number, out: UrlRange, found: boolean): boolean {
  if (kind === 'request') return requestUrl(buf, start, end, out);
  if (kind === 'url' && !found) {
    out.start = start;
    out.end = end;
    return end > start && buf[start] !== 45;
  }
  return found;
}

/** `%U%q`: fields with no literal between them are one field (the URL's, if either is). */
function mergeAdjacentFields(items: readonly Item[]): Item[] {
  const rank: Record<Field, number> = { request: 3, url: 2, time: 1, status: 0, other: 0 };
  const out: Item[] = [];
  for (const item of items) {
    const prev = out.at(-1);
    if (prev && 'field' in prev && 'field' in item) {
      out[out.length - 1] = { field: rank[item.field] > rank[prev.field] ? item.field : prev.field, name: prev.name + item.name };
    } else out.push(item);
  }
  return out;
}

/** Apache's LogFormat of a named format, for documentation and tests. */
export function apacheFormatOf(name: string): string | undefined {
  return APACHE_FORMATS[name];
}
