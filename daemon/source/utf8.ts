import { isUtf8 } from 'node:buffer';

export const DECODE_ERROR_POLICIES = ['FAIL', 'REPLACE', 'IGNORE'] as const;
export type DecodeErrorPolicy = (typeof DECODE_ERROR_POLICIES)[number];

export { isUtf8 };

/** `buf[start, end)` with every invalid UTF-8 sequence replaced by U+FFFD (WHATWG's rule, as Node decodes). */
export function replaceInvalidUtf8(buf: Buffer, start: number, end: number): Buffer {
  return Buffer.from(buf.toString('utf8', start, end), 'utf8');
}

/** `buf[start, end)` without the bytes that are not part of a well-formed UTF-8 sequence. */
export function dropInvalidUtf8(buf: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  let o = 0;
  let i = start;
  while (i < end) {
    const n = sequenceLength(buf, i, end);
    if (n === 0) {
      i++;
      continue;
    }
    buf.copy(out, o, i, i + n);
    o += n;
    i += n;
  }
  return out.subarray(0, o);
}

/** Length of the well-formed sequence at `i` (Unicode table 3-7), 0 if there is none. */
export function sequenceLength(b: Buffer, i: number, end: number): number {
  const c = b[i]!;
  if (c < 0x80) return 1;
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c === 0xe0) lo = 0xa0;
    else if (c === 0xed) hi = 0x9f; // no surrogates
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c === 0xf0) lo = 0x90;
    else if (c === 0xf4) hi = 0x8f; // nothing above U+10FFFF
  } else return 0;
  if (i + n > end) return 0;
  const second = b[i + 1]!;
  if (second < lo || second > hi) return 0;
  for (let k = 2; k < n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return 0;
  return n;
}
