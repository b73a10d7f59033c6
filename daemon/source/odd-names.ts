import { isUtf8, sequenceLength } from './utf8.js';

/**
 * Names the pipeline cannot carry as they are: not valid UTF-8 (Node lists such a name with
 * U+FFFD in place of the bad bytes, a string that names no file), or with a control
 * character (a line break in a name breaks every line-oriented log and tool, and the
 * default `includePattern`, `^.*$`, does not match it). Such a file is not read: it is
 * listed failed and renamed with `failedSuffix`, its bytes kept (the source's own listing
 * reads names as bytes to find them).
 */
export function oddName(raw: Buffer): string | undefined {
  // Bytes, not a decoded string: the source lists 10,000 names every pollDelay.
  for (let i = 0; i < raw.length; i++) if (raw[i]! < 0x20 || raw[i] === 0x7f) return 'its name contains a control character (a line break, a tab...): not read';
  if (!isUtf8(raw)) return 'its name is not valid UTF-8: not read';
  return undefined;
}

const CONTROL = /[\x00-\x1f\x7f]/;

/** The name as text for the log and /api/files: control characters and bad bytes as `\n`, `\xff`. */
export function printableName(raw: Buffer): string {
  let out = '';
  for (let i = 0; i < raw.length; ) {
    const n = sequenceLength(raw, i, raw.length);
    if (n === 0) {
      out += `\\x${raw[i]!.toString(16).padStart(2, '0')}`;
      i++;
      continue;
    }
    const text = raw.toString('utf8', i, i + n);
    out += n === 1 && CONTROL.test(text) ? (ESCAPES[text] ?? `\\x${raw[i]!.toString(16).padStart(2, '0')}`) : text;
    i += n;
  }
  return out;
}

const ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
