import { findUrl, findUrlCombined, findUrlCommon, requestUrl } from './access-log.js';
import { compileJsonFormat, JSON_FORMATS } from './json-format.js';
import { BUILTIN_FIELDS, FIELD, LineFields, sizeAt, statusAt, type BuiltinField, type LineFormat, type LineParser } from './line-fields.js';

export type { LineFormat, LineParser };
import { LogflowError } from '../errors.js';

/** The parser of a format, as the URL-only code knew it. */
export type UrlParser = LineParser;

export const NAMED_FORMATS = ['auto', 'combined', 'common', 'vhost_combined', ...JSON_FORMATS] as const;

/** Apache's definitions of the named formats (nginx's default `combined` is the same). */
const APACHE_FORMATS: Record<string, string> = {
  combined: '%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"',
  common: '%h %l %u %t "%r" %>s %b',
  vhost_combined: '%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"',
};

const SP = 32;
const QUESTION = 63;
const COLON = 58;


export interface LineFormatOptions {
  /** `/a?x=1` counts as `/a`. */
  readonly stripQueryString?: boolean;
  /** A JSON format's `fields.NAME = dotted.path` (presets have their own; these add or replace). */
  readonly fields?: Readonly<Record<string, string>>;
}

/**
 * Compiles `logFormat`: a named format, an Apache `LogFormat` string (`%h %l %u %t "%r"
 * %>s %b ...`), an nginx `log_format` string (`$remote_addr - ...`), or JSON (`json` with
 * `fields`, or the presets `caddy` and `traefik`). The URL is the request's second token
 * (`%r`, `$request`) or the path (`%U`, `$uri`, `$request_uri`). Throws on a format that
 * cannot be compiled. Memoised per thread (see url-window-config.ts build() for why each
 * thread compiles its own).
 */
export function compileLineFormat(format: string, options: LineFormatOptions = {}): LineFormat {
  const memo = `${format}\u0000${options.stripQueryString ? 1 : 0}\u0000${options.fields && Object.keys(options.fields).length > 0 ? JSON.stringify(Object.entries(options.fields).sort()) : ''}`;
  let compiled = formats.get(memo);
  if (!compiled) {
    const base = compileFormat(format, options.fields);
    compiled = options.stripQueryString ? { ...base, parse: stripQuery(base.parse) } : base;
    formats.set(memo, compiled);
  }
  return compiled;
}

/**
 * The parser of a format that must have a URL (the URL-only code, `logflow check`):
 * throws when the format has none.
 */
export function compileUrlParser(format: string, stripQueryString: boolean, fields?: Readonly<Record<string, string>>): LineParser {
  const f = compileLineFormat(format, { stripQueryString, fields });
  if (!f.has.has('url')) throw new LogflowError('LF_LOG_FORMAT', noUrl(format));
  return f.parse;
}

function noUrl(format: string): string {
  return JSON_FORMATS.includes(format as (typeof JSON_FORMATS)[number])
    ? `the format ${format} maps no url field (fields.url)`
    : `the format ${JSON.stringify(format)} has no request (%r, $request) or URL (%U, $uri, $request_uri)`;
}

const formats = new Map<string, LineFormat>();

function stripQuery(parse: LineParser): LineParser {
  return (buf, start, end, out) => {
    if (!parse(buf, start, end, out)) return false;
    const urlBuf = out.bufs[FIELD.url]!;
    const q = urlBuf.indexOf(QUESTION, out.starts[FIELD.url]!);
    if (q >= 0 && q < out.ends[FIELD.url]!) {
      out.ends[FIELD.url] = q;
      if (urlBuf === buf) out.end = q;
    }
    return true;
  };
}

const COMBINED_FIELDS: readonly BuiltinField[] = ['url', 'status', 'client', 'referrer', 'agent', 'method', 'user'];

function builtin(parse: LineParser, has: readonly string[], hasTime = true): LineFormat {
  return { parse, fieldNames: BUILTIN_FIELDS, has: new Set(has), hasTime };
}

function compileFormat(format: string, fields: Readonly<Record<string, string>> | undefined): LineFormat {
  // The named formats have hand-written parsers (the fastest); each ends the line where
  // its definition does (access-log.ts, the tails).
  if (format === 'auto') return builtin(findUrl, COMBINED_FIELDS);
  if (format === 'combined') return builtin(findUrlCombined, COMBINED_FIELDS);
  if (format === 'common') return builtin(findUrlCommon, ['url', 'status', 'client', 'method', 'user']);
  if (format === 'vhost_combined') {
    // One more leading token (`host:port`), then the combined line; the vhost is the host.
    return builtin((buf, start, end, out) => {
      const sp = buf.indexOf(SP, start);
      if (sp < 0 || sp >= end || !findUrlCombined(buf, sp + 1, end, out)) return false;
      const colon = buf.lastIndexOf(COLON, sp);
      out.set(FIELD.vhost, buf, start, colon > start ? colon : sp);
      return true;
    }, [...COMBINED_FIELDS, 'vhost']);
  }
  if (JSON_FORMATS.includes(format as (typeof JSON_FORMATS)[number])) return compileJsonFormat(format as (typeof JSON_FORMATS)[number], fields ?? {});
  if (fields && Object.keys(fields).length > 0) throw new LogflowError('LF_LOG_FORMAT', `fields.* are for the JSON formats (${JSON_FORMATS.join(', ')}), not for ${JSON.stringify(format)}`);
  return compileItems(formatItems(format), format);
}

/** A format string's items, adjacent fields merged: what the parser matches, left to right. */
export function formatItems(format: string): Item[] {
  return mergeAdjacentFields(format.includes('%') ? apacheItems(format) : nginxItems(format));
}

export type Field = 'request' | 'url' | 'time' | 'timeIso' | 'status' | 'bytes' | 'client' | 'user' | 'method' | 'referrer' | 'agent' | 'vhost' | 'other';
/** A literal, or a field with the directive it came from (`%>s`, `$status`): for messages. */
export type Item = { readonly literal: Buffer } | { readonly field: Field; readonly name: string };

/** An Apache directive's field: `%h`, `%>s`, `%{Referer}i`... */
function apacheField(letter: string, braces: string | undefined): Field {
  switch (letter) {
    case 'r': return 'request';
    case 'U': return 'url';
    case 't': return braces === undefined ? 'time' : 'other';
    case 's': return 'status';
    case 'b': case 'B': case 'O': return 'bytes';
    case 'h': case 'a': return 'client';
    case 'u': return 'user';
    case 'm': return 'method';
    case 'v': case 'V': return 'vhost';
    case 'i': {
      const header = (braces ?? '').toLowerCase();
      return header === 'referer' ? 'referrer' : header === 'user-agent' ? 'agent' : 'other';
    }
    default: return 'other';
  }
}

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
    let braces: string | undefined;
    if (format[j] === '{') {
      const close = format.indexOf('}', j);
      braces = close < 0 ? '' : format.slice(j + 1, close);
      j = close + 1;
    }
    const letter = format[j];
    if (!letter || j === 0) throw new LogflowError('LF_LOG_FORMAT', `unfinished directive at position ${i} of the LogFormat`);
    if (literal) items.push({ literal: Buffer.from(literal) });
    literal = '';
    items.push({ field: apacheField(letter, braces), name: format.slice(i, j + 1) });
    i = j;
  }
  if (literal) items.push({ literal: Buffer.from(literal) });
  return items;
}

const NGINX_FIELDS: Record<string, Field> = {
  request: 'request',
  request_uri: 'url',
  uri: 'url',
  document_uri: 'url',
  time_local: 'time',
  time_iso8601: 'timeIso',
  status: 'status',
  body_bytes_sent: 'bytes',
  bytes_sent: 'bytes',
  remote_addr: 'client',
  realip_remote_addr: 'client',
  remote_user: 'user',
  request_method: 'method',
  http_referer: 'referrer',
  http_user_agent: 'agent',
  host: 'vhost',
  server_name: 'vhost',
  http_host: 'vhost',
};

/** `$remote_addr - $remote_user [$time_local] "$request" ...`. */
function nginxItems(format: string): Item[] {
  const items: Item[] = [];
  const re = /\$(\{[a-zA-Z0-9_]+\}|[a-zA-Z0-9_]+)/g;
  let last = 0;
  for (let m = re.exec(format); m; m = re.exec(format)) {
    if (m.index > last) items.push({ literal: Buffer.from(format.slice(last, m.index)) });
    const name = m[1]!.replace(/[{}]/g, '');
    items.push({ field: NGINX_FIELDS[name] ?? 'other', name: m[0] });
    last = m.index + m[0].length;
  }
  if (last < format.length) items.push({ literal: Buffer.from(format.slice(last)) });
  return items;
}

/** The built-in field a format item fills (a request fills the URL and the method). */
const FIELD_OF: Partial<Record<Field, number>> = {
  url: FIELD.url,
  client: FIELD.client,
  user: FIELD.user,
  method: FIELD.method,
  referrer: FIELD.referrer,
  agent: FIELD.agent,
  vhost: FIELD.vhost,
};

/** The fields the items give, by name. */
function itemFields(items: readonly Item[]): string[] {
  const has = new Set<string>();
  for (const item of items) {
    if (!('field' in item)) continue;
    if (item.field === 'request') has.add('url').add('method');
    else if (item.field === 'status') has.add('status');
    else if (FIELD_OF[item.field] !== undefined) has.add(item.field);
  }
  return [...has];
}

/**
 * Matches the items left to right: a literal must be there byte for byte; a field runs
 * to where the next literal is (a field between quotes runs to the next unescaped quote;
 * Apache's `%t` is the bracketed time; a last field takes the rest of the line).
 */
function compileItems(items: readonly Item[], format: string): LineFormat {
  const has = itemFields(items);
  const needsUrl = has.includes('url');
  if (!items.some((it) => 'field' in it)) throw new LogflowError('LF_LOG_FORMAT', `the format ${JSON.stringify(format)} has no field`);
  const steps = items.map((item, i) => {
    if ('literal' in item) return { literal: item.literal, field: undefined, until: undefined, quoted: false };
    const next = items[i + 1];
    const prev = items[i - 1];
    const until = next && 'literal' in next ? next.literal : undefined;
    const quoted = until?.[0] === 34 && prev !== undefined && 'literal' in prev && prev.literal.at(-1) === 34;
    return { literal: undefined, field: item.field, until, quoted };
  });
  const last = steps.length;
  // Items from `i` on, at `p`; true when they all match to the line's end and a URL was found
  // (when the format has one). A quoted request ends at the first unescaped quote after which
  // the rest matches, so a raw quote inside it (`"GET /x?y="z" HTTP/1.0"`) is passed over, as
  // a regex would.
  const match = (buf: Buffer, i: number, p: number, end: number, out: LineFields, found: boolean): boolean => {
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
        found = field(buf, step.field!, fieldStart, p, out, found);
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
      // nginx's `$time_local` between literal brackets, or `$time_iso8601`.
      if (step.field === 'time' || step.field === 'timeIso') {
        out.timeStart = fieldStart;
        out.timeEnd = p;
        out.timeIso = step.field === 'timeIso';
      }
      found = field(buf, step.field!, fieldStart, p, out, found);
    }
    return (found || !needsUrl) && p === end;
  };
  const parse: LineParser = (buf, start, end, out) => {
    out.timeStart = -1;
    out.status = 0;
    out.bytes = 0;
    return match(buf, 0, start, end, out, false);
  };
  return { parse, fieldNames: BUILTIN_FIELDS, has: new Set(has), hasTime: items.some((it) => 'field' in it && (it.field === 'time' || it.field === 'timeIso')) };
}

function isStatus(buf: Buffer, start: number, end: number): boolean {
  if (end - start !== 3) return false;
  for (let k = start; k < end; k++) if (buf[k]! < 48 || buf[k]! > 57) return false;
  return true;
}

/**
 * Takes a field `buf[start, end)` of kind `kind` into `out`; returns whether a URL was taken
 * (`found`: one was taken before, by a request or URL field).
 */
function field(buf: Buffer, kind: Field, start: number, end: number, out: LineFields, found: boolean): boolean {
  switch (kind) {
    case 'request':
      return requestUrl(buf, start, end, out);
    case 'url':
      if (found) return true;
      out.start = start;
      out.end = end;
      out.set(FIELD.url, buf, start, end);
      return end > start && buf[start] !== 45;
    case 'status':
      out.status = end - start === 3 ? statusAt(buf, start) : 0;
      out.set(FIELD.status, buf, start, end);
      return found;
    case 'bytes': {
      const n = sizeAt(buf, start, end);
      out.bytes = Number.isNaN(n) ? 0 : n;
      return found;
    }
    default: {
      const i = FIELD_OF[kind];
      if (i !== undefined) out.set(i, buf, start, end);
      return found;
    }
  }
}

/** `%U%q`: fields with no literal between them are one field (the URL's, if either is). */
function mergeAdjacentFields(items: readonly Item[]): Item[] {
  const rank = (f: Field) => (f === 'request' ? 3 : f === 'url' ? 2 : f === 'time' || f === 'timeIso' ? 1 : 0);
  const out: Item[] = [];
  for (const item of items) {
    const prev = out.at(-1);
    if (prev && 'field' in prev && 'field' in item) {
      out[out.length - 1] = { field: rank(item.field) > rank(prev.field) ? item.field : prev.field, name: prev.name + item.name };
    } else out.push(item);
  }
  return out;
}

/** Apache's LogFormat of a named format, for documentation and tests. */
export function apacheFormatOf(name: string): string | undefined {
  return APACHE_FORMATS[name];
}

export { LineFields };
