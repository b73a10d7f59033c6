import { LogflowError } from '../errors.js';
import { BUILTIN_FIELDS, FIELD, LineFields, MISSING } from './line-fields.js';
import { epochToMs, numberAt, textTimeToMs } from './json-time.js';
import type { LineFormat, LineParser } from './line-fields.js';

/** `logFormat` values that read JSON lines: your own fields, or a server's default ones. */
export const JSON_FORMATS = ['json', 'caddy', 'traefik'] as const;
export type JsonFormat = (typeof JSON_FORMATS)[number];

/**
 * The presets' `fields`: each server's default JSON access-log fields. `a|b` takes the first
 * of the paths the line has (Caddy before 2.7 wrote no `client_ip`). A header is an array of
 * strings in Caddy: its first element is taken.
 */
export const JSON_PRESETS: Readonly<Record<Exclude<JsonFormat, 'json'>, Readonly<Record<string, string>>>> = {
  caddy: {
    time: 'ts',
    url: 'request.uri',
    status: 'status',
    bytes: 'size',
    client: 'request.client_ip|request.remote_ip',
    method: 'request.method',
    vhost: 'request.host',
    agent: 'request.headers.User-Agent',
    referrer: 'request.headers.Referer',
    user: 'user_id',
  },
  // Traefik keeps no headers by default (`fields.headers.defaultmode = drop`): agent and
  // referrer are `-` unless it keeps them (as `request_User-Agent`, `request_Referer`).
  traefik: {
    time: 'StartUTC',
    url: 'RequestPath',
    status: 'DownstreamStatus',
    bytes: 'DownstreamContentSize',
    client: 'ClientHost',
    method: 'RequestMethod',
    vhost: 'RequestHost',
    agent: 'request_User-Agent',
    referrer: 'request_Referer',
    user: 'ClientUsername',
  },
};

/** Field names that are not dimensions: where the line's time and response size are. */
export const MEASURE_FIELDS = ['time', 'bytes'] as const;

/** A field name a dimension can take: letters, digits, `_` and `-`, starting with a letter. */
export const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

/** The field map of a JSON format: the preset's, with the user's on top. */
export function jsonFields(format: JsonFormat, fields: Readonly<Record<string, string>>): Record<string, string> {
  return { ...(format === 'json' ? {} : JSON_PRESETS[format]), ...fields };
}

const TIME = -1;
const BYTES = -2;

/** A key of the trie: its bytes, and what it leads to. */
interface TrieNode {
  readonly keys: Buffer[];
  /** Per key: field targets (`LineFields` index, TIME or BYTES) when the path ends there... */
  readonly targets: (number[] | undefined)[];
  /** ...and the node below it when a longer path goes on. */
  readonly children: (TrieNode | undefined)[];
}

const newNode = (): TrieNode => ({ keys: [], targets: [], children: [] });

function child(node: TrieNode, key: string): number {
  const bytes = Buffer.from(key);
  let i = node.keys.findIndex((k) => k.equals(bytes));
  if (i < 0) {
    i = node.keys.length;
    node.keys.push(bytes);
    node.targets.push(undefined);
    node.children.push(undefined);
  }
  return i;
}

/**
 * Compiles a JSON format: `fields.NAME = dotted.path` (a path names object keys; `a|b`
 * tries `a`, then `b`). The parser reads the line once, without building objects: keys are
 * matched byte by byte against a trie of the paths, other values are skipped. A line that
 * is not one JSON object is a parse error, and so is one without its URL when the format
 * maps one; any other field it lacks reads as `-`.
 */
export function compileJsonFormat(format: JsonFormat, userFields: Readonly<Record<string, string>>): LineFormat {
  const fields = jsonFields(format, userFields);
  if (format === 'json' && Object.keys(fields).length === 0) throw new LogflowError('LF_LOG_FORMAT', 'logFormat json needs fields.NAME = path keys (fields.url = request.uri, fields.status = status, ...)');
  const names: string[] = [...BUILTIN_FIELDS];
  const root = newNode();
  /** The field indexes each path alternative of a field fills, in order of preference. */
  const alternatives: number[][] = [];
  let hasTime = false;
  for (const [name, spec] of Object.entries(fields)) {
    if (!FIELD_NAME.test(name)) throw new LogflowError('LF_LOG_FORMAT', `fields.${name}: a field name is letters, digits, _ and -, starting with a letter`);
    let target: number;
    if (name === 'time') {
      target = TIME;
      hasTime = true;
    } else if (name === 'bytes') target = BYTES;
    else {
      target = (FIELD as Record<string, number>)[name] ?? names.indexOf(name);
      if (target < 0) {
        target = names.length;
        names.push(name);
      }
    }
    const paths = spec.split('|').map((s) => s.trim());
    const order: number[] = [];
    for (const [rank, path] of paths.entries()) {
      if (path === '' || path.split('.').some((k) => k === '')) throw new LogflowError('LF_LOG_FORMAT', `fields.${name} = ${spec}: a path is object keys joined by dots (request.headers.User-Agent)`);
      const keys = path.split('.');
      let node = root;
      for (const [depth, key] of keys.entries()) {
        const i = child(node, key);
        if (depth === keys.length - 1) {
          (node.targets[i] ??= []).push(slotOf(target, rank));
        } else node = node.children[i] ??= newNode();
      }
      order.push(rank);
    }
    alternatives.push(order);
  }
  const has = new Set(Object.keys(fields).filter((n) => n !== 'time' && n !== 'bytes'));
  const parse = jsonParser(root, names.length, has.has('url'));
  return { parse, fieldNames: names, has, hasTime };
}

/**
 * A target and the rank of the path alternative that leads to it, in one number: a field
 * filled by alternative 0 is not replaced by alternative 1 (`a|b` prefers `a` wherever it is).
 */
function slotOf(target: number, rank: number): number {
  return (target + 2) * 16 + rank;
}

const WS_SP = 32;
const WS_TAB = 9;
const WS_CR = 13;
const WS_LF = 10;
const QUOTE = 34;
const BACKSLASH = 92;
const LBRACE = 123;
const RBRACE = 125;
const LBRACKET = 91;
const RBRACKET = 93;
const COLON = 58;
const COMMA = 44;

/** Parser state for one line; module-level so that the hot path allocates nothing. */
class JsonCursor {
  buf!: Buffer;
  p = 0;
  end = 0;
  out!: LineFields;
  /** Per target: the rank of the path alternative that filled it (16 = none yet). */
  readonly ranks = new Int8Array(64);
  timeRank = 16;
  bytesRank = 16;
}

function jsonParser(root: TrieNode, fieldCount: number, needsUrl: boolean): LineParser {
  const c = new JsonCursor();
  return (buf, start, end, out) => {
    out.timeStart = -1;
    out.timeIso = false;
    out.timeMs = NaN;
    out.status = 0;
    out.bytes = 0;
    out.scratchUsed = 0;
    const bufs = out.bufs;
    for (let i = 0; i < fieldCount; i++) {
      bufs[i] = MISSING;
      out.starts[i] = 0;
      out.ends[i] = 1;
    }
    c.buf = buf;
    c.p = start;
    c.end = end;
    c.out = out;
    c.ranks.fill(16, 0, Math.min(fieldCount, 64));
    c.timeRank = 16;
    c.bytesRank = 16;
    skipWs(c);
    if (c.p >= end || buf[c.p] !== LBRACE) return false;
    if (!object(c, root)) return false;
    skipWs(c);
    if (c.p !== end) return false;
    if (needsUrl && (out.bufs[FIELD.url] === MISSING || out.ends[FIELD.url]! <= out.starts[FIELD.url]!)) return false;
    out.start = out.starts[FIELD.url]!;
    out.end = out.ends[FIELD.url]!;
    return true;
  };
}

function skipWs(c: JsonCursor): void {
  const buf = c.buf;
  let p = c.p;
  while (p < c.end) {
    const b = buf[p];
    if (b !== WS_SP && b !== WS_TAB && b !== WS_CR && b !== WS_LF) break;
    p++;
  }
  c.p = p;
}

/** The closing quote of the string whose opening quote is at `p`, or -1 (unclosed, a control character, a bad escape). */
function stringEnd(buf: Buffer, p: number, end: number): number {
  for (let q = p + 1; q < end; q++) {
    const b = buf[q]!;
    if (b === QUOTE) return q;
    if (b === BACKSLASH) {
      const e = buf[++q];
      if (e === 117) {
        if (hex4(buf, q + 1, end) < 0) return -1;
        q += 4;
      } else if (e !== 34 && e !== 92 && e !== 47 && e !== 98 && e !== 102 && e !== 110 && e !== 114 && e !== 116) return -1;
    } else if (b < 0x20) return -1;
  }
  return -1;
}

/** An object at `c.p` (`{`); `node`: the trie below it (undefined: skip it all). Leaves `c.p` after `}`. */
function object(c: JsonCursor, node: TrieNode | undefined): boolean {
  const buf = c.buf;
  c.p++;
  skipWs(c);
  if (c.p < c.end && buf[c.p] === RBRACE) {
    c.p++;
    return true;
  }
  for (;;) {
    if (c.p >= c.end || buf[c.p] !== QUOTE) return false;
    const keyStart = c.p + 1;
    const keyEnd = stringEnd(buf, c.p, c.end);
    if (keyEnd < 0) return false;
    c.p = keyEnd + 1;
    skipWs(c);
    if (c.p >= c.end || buf[c.p] !== COLON) return false;
    c.p++;
    skipWs(c);
    const at = node === undefined ? -1 : findKey(node, buf, keyStart, keyEnd);
    if (at < 0) {
      if (!skipValue(c)) return false;
    } else {
      const targets = node!.targets[at];
      const below = node!.children[at];
      const b = buf[c.p];
      if (b === LBRACE) {
        if (!object(c, below)) return false;
      } else if (targets !== undefined) {
        if (!leaf(c, targets)) return false;
      } else if (!skipValue(c)) return false;
    }
    skipWs(c);
    if (c.p >= c.end) return false;
    const sep = buf[c.p];
    c.p++;
    if (sep === RBRACE) return true;
    if (sep !== COMMA) return false;
    skipWs(c);
  }
}

/** The index of key `buf[start, end)` (raw bytes, escapes not decoded) in the node, or -1. */
function findKey(node: TrieNode, buf: Buffer, start: number, end: number): number {
  const len = end - start;
  const keys = node.keys;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    if (k.length !== len) continue;
    let same = true;
    for (let j = 0; j < len; j++) {
      if (k[j] !== buf[start + j]) {
        same = false;
        break;
      }
    }
    if (same) return i;
  }
  return -1;
}

/**
 * A value that fills fields: a string (its text), a number, true/false (as written), null
 * (missing), or an array (its first element, Caddy's headers). Objects are not values here.
 */
function leaf(c: JsonCursor, targets: number[]): boolean {
  const buf = c.buf;
  if (buf[c.p] === LBRACKET) {
    // The first element fills the fields; the rest is skipped.
    c.p++;
    skipWs(c);
    if (c.p < c.end && buf[c.p] === RBRACKET) {
      c.p++;
      return true;
    }
    if (buf[c.p] === LBRACKET || buf[c.p] === LBRACE) {
      if (!skipValue(c)) return false;
    } else if (!leaf(c, targets)) return false;
    for (;;) {
      skipWs(c);
      if (c.p >= c.end) return false;
      const sep = buf[c.p++];
      if (sep === RBRACKET) return true;
      if (sep !== COMMA) return false;
      skipWs(c);
      if (!skipValue(c)) return false;
    }
  }
  let start: number;
  let end: number;
  let text: Buffer = buf;
  let isString = false;
  if (buf[c.p] === QUOTE) {
    const close = stringEnd(buf, c.p, c.end);
    if (close < 0) return false;
    start = c.p + 1;
    end = close;
    c.p = close + 1;
    isString = true;
    // Escapes are decoded into the line's scratch buffer (rare: a quote in an agent).
    if (buf.indexOf(BACKSLASH, start) >= 0 && buf.indexOf(BACKSLASH, start) < end) {
      const decoded = unescapeInto(c.out, buf, start, end);
      if (decoded < 0) return false;
      text = c.out.scratch;
      start = decoded;
      end = c.out.scratchUsed;
    }
  } else {
    start = c.p;
    if (!skipValue(c)) return false;
    end = c.p;
    if (end - start === 4 && buf[start] === 110) return true; // null: missing
  }
  for (let t = 0; t < targets.length; t++) fill(c, targets[t]!, text, start, end, isString);
  return true;
}

/** Puts a value into target slot `slot` (field, TIME or BYTES, with the path's rank). */
function fill(c: JsonCursor, slot: number, text: Buffer, start: number, end: number, isString: boolean): void {
  const out = c.out;
  const target = (slot >> 4) - 2;
  const rank = slot & 15;
  if (target === TIME) {
    if (rank > c.timeRank) return;
    const ms = isString ? textTimeToMs(text, start, end) : epochToMs(numberAt(text, start, end));
    if (Number.isNaN(ms)) return;
    c.timeRank = rank;
    out.timeMs = ms;
    return;
  }
  if (target === BYTES) {
    if (rank > c.bytesRank) return;
    const n = numberAt(text, start, end);
    if (!(n >= 0)) return;
    c.bytesRank = rank;
    out.bytes = Math.floor(n);
    return;
  }
  if (target < 64) {
    if (rank > c.ranks[target]!) return;
    c.ranks[target] = rank;
  }
  // An empty string reads as missing, as `-` does.
  if (end === start) return;
  out.set(target, text, start, end);
  if (target === FIELD.status) {
    const n = end - start === 3 ? numberAt(text, start, end) : NaN;
    out.status = n >= 100 && n <= 999 ? n : 0;
  }
}

/** Decodes the JSON string `buf[start, end)` into `out.scratch`; its start there, or -1 for a bad escape. */
function unescapeInto(out: LineFields, buf: Buffer, start: number, end: number): number {
  const need = out.scratchUsed + (end - start) * 3;
  if (need > out.scratch.length) {
    const grown = Buffer.allocUnsafe(Math.max(need, out.scratch.length * 2));
    out.scratch.copy(grown, 0, 0, out.scratchUsed);
    // Fields already decoded point into the old scratch: they keep it (it is not reused until the next line).
    out.scratch = grown;
  }
  const s = out.scratch;
  const from = out.scratchUsed;
  let w = from;
  for (let p = start; p < end; p++) {
    const b = buf[p]!;
    if (b !== BACKSLASH) {
      s[w++] = b;
      continue;
    }
    const e = buf[++p];
    switch (e) {
      case 34: case 92: case 47: s[w++] = e; break;
      case 98: s[w++] = 8; break;
      case 102: s[w++] = 12; break;
      case 110: s[w++] = 10; break;
      case 114: s[w++] = 13; break;
      case 116: s[w++] = 9; break;
      case 117: {
        let cp = hex4(buf, p + 1, end);
        if (cp < 0) return -1;
        p += 4;
        // A surrogate pair: \ud83d\ude00.
        if (cp >= 0xd800 && cp <= 0xdbff && buf[p + 1] === BACKSLASH && buf[p + 2] === 117) {
          const low = hex4(buf, p + 3, end);
          if (low >= 0xdc00 && low <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            p += 6;
          }
        }
        w += s.write(String.fromCodePoint(cp), w, 'utf8');
        break;
      }
      default:
        return -1;
    }
  }
  out.scratchUsed = w;
  return from;
}

function hex4(buf: Buffer, p: number, end: number): number {
  if (p + 4 > end) return -1;
  let v = 0;
  for (let i = 0; i < 4; i++) {
    const b = buf[p + i]!;
    const d = b >= 48 && b <= 57 ? b - 48 : b >= 97 && b <= 102 ? b - 87 : b >= 65 && b <= 70 ? b - 55 : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** Open containers of `skipValue` (1 object, 2 array): lines nested deeper are parse errors. */
const MAX_DEPTH = 256;
const stack = new Uint8Array(MAX_DEPTH);

/**
 * Skips one value at `c.p`, of any kind, nested to any depth up to MAX_DEPTH, without
 * recursion, checking its grammar as it goes: a line counted is a line `JSON.parse` takes.
 */
function skipValue(c: JsonCursor): boolean {
  const buf = c.buf;
  const end = c.end;
  let depth = 0;
  for (;;) {
    // A value at c.p.
    skipWs(c);
    if (c.p >= end) return false;
    const b = buf[c.p];
    if (b === QUOTE) {
      const close = stringEnd(buf, c.p, end);
      if (close < 0) return false;
      c.p = close + 1;
    } else if (b === LBRACE || b === LBRACKET) {
      if (depth === MAX_DEPTH) return false;
      stack[depth++] = b === LBRACE ? 1 : 2;
      c.p++;
      skipWs(c);
      if (c.p < end && buf[c.p] === (b === LBRACE ? RBRACE : RBRACKET)) {
        c.p++;
        depth--;
      } else {
        if (b === LBRACE && !key(c)) return false;
        continue;
      }
    } else {
      const from = c.p;
      let p = from;
      while (p < end) {
        const x = buf[p];
        if (x === COMMA || x === RBRACE || x === RBRACKET || x === WS_SP || x === WS_TAB || x === WS_CR || x === WS_LF) break;
        p++;
      }
      if (!literalOk(buf, from, p)) return false;
      c.p = p;
    }
    // After a value: the end, a comma, or the close of its container.
    for (;;) {
      if (depth === 0) return true;
      skipWs(c);
      if (c.p >= end) return false;
      const x = buf[c.p++];
      const kind = stack[depth - 1];
      if (x === COMMA) {
        if (kind === 1 && !key(c)) return false;
        break;
      }
      if ((x === RBRACE && kind === 1) || (x === RBRACKET && kind === 2)) {
        depth--;
        continue;
      }
      return false;
    }
  }
}

/** `"key" :` inside an object being skipped. */
function key(c: JsonCursor): boolean {
  skipWs(c);
  if (c.p >= c.end || c.buf[c.p] !== QUOTE) return false;
  const close = stringEnd(c.buf, c.p, c.end);
  if (close < 0) return false;
  c.p = close + 1;
  skipWs(c);
  if (c.p >= c.end || c.buf[c.p] !== COLON) return false;
  c.p++;
  return true;
}

/** `true`, `false`, `null` or a JSON number (`-?int(.digits)?([eE][+-]?digits)?`). */
function literalOk(buf: Buffer, start: number, end: number): boolean {
  const b = buf[start];
  const n = end - start;
  if (b === 116) return n === 4 && buf[start + 1] === 114 && buf[start + 2] === 117 && buf[start + 3] === 101;
  if (b === 102) return n === 5 && buf[start + 1] === 97 && buf[start + 2] === 108 && buf[start + 3] === 115 && buf[start + 4] === 101;
  if (b === 110) return n === 4 && buf[start + 1] === 117 && buf[start + 2] === 108 && buf[start + 3] === 108;
  let p = start;
  if (buf[p] === 45) p++;
  if (p >= end || !isDigit(buf[p])) return false;
  if (buf[p] === 48) p++;
  else while (p < end && isDigit(buf[p])) p++;
  if (p < end && buf[p] === 46) {
    p++;
    if (p >= end || !isDigit(buf[p])) return false;
    while (p < end && isDigit(buf[p])) p++;
  }
  if (p < end && (buf[p] === 101 || buf[p] === 69)) {
    p++;
    if (p < end && (buf[p] === 43 || buf[p] === 45)) p++;
    if (p >= end || !isDigit(buf[p])) return false;
    while (p < end && isDigit(buf[p])) p++;
  }
  return p === end;
}

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 48 && b <= 57;
}
