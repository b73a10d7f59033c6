import { ConfigError } from '../errors.js';

export interface Property {
  readonly key: string;
  readonly value: string;
  /** 1-based line where the key starts, for error messages. */
  readonly line: number;
}

/**
 * Parses Java `.properties` text, the syntax Flume's configuration uses: `#`/`!` comments,
 * `=`, `:` or white space as separator, `\` line continuations and escapes. A later
 * definition of a key replaces an earlier one, as in `java.util.Properties`.
 */
export function parseProperties(text: string): Map<string, Property> {
  const props = new Map<string, Property>();
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const startLine = i + 1;
    let logical = lines[i]!.replace(/^[ \t\f]+/, '');
    if (logical === '' || logical[0] === '#' || logical[0] === '!') continue;
    while (endsWithContinuation(logical) && i + 1 < lines.length) {
      logical = logical.slice(0, -1) + lines[++i]!.replace(/^[ \t\f]+/, '');
    }
    if (endsWithContinuation(logical)) logical = logical.slice(0, -1);
    const { key, value } = splitKeyValue(logical, startLine);
    props.set(key, { key, value, line: startLine });
  }
  return props;
}

function endsWithContinuation(line: string): boolean {
  let backslashes = 0;
  for (let j = line.length - 1; j >= 0 && line[j] === '\\'; j--) backslashes++;
  return backslashes % 2 === 1;
}

function splitKeyValue(logical: string, line: number): { key: string; value: string } {
  let end = 0;
  while (end < logical.length) {
    const c = logical[end]!;
    if (c === '\\') { end += 2; continue; }
    if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break;
    end++;
  }
  const rawKey = logical.slice(0, end);
  let rest = logical.slice(end).replace(/^[ \t\f]+/, '');
  if (rest[0] === '=' || rest[0] === ':') rest = rest.slice(1).replace(/^[ \t\f]+/, '');
  const key = unescape(rawKey, line);
  if (key === '') throw new ConfigError('LF_CONFIG_SYNTAX', `line ${line}: a value without a key`, undefined, line);
  return { key, value: unescape(rest, line).trimEnd() };
}

const SIMPLE_ESCAPES: Record<string, string> = { t: '\t', n: '\n', r: '\r', f: '\f' };

function unescape(s: string, line: number): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') { out += c; continue; }
    const next = s[++i];
    if (next === undefined) break;
    if (next === 'u') {
      const hex = s.slice(i + 1, i + 5);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
        throw new ConfigError('LF_CONFIG_SYNTAX', `line ${line}: malformed \\uXXXX escape`, undefined, line);
      }
      out += String.fromCharCode(parseInt(hex, 16));
      i += 4;
    } else {
      out += SIMPLE_ESCAPES[next] ?? next;
    }
  }
  return out;
}
