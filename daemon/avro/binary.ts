import { LogflowError } from '../errors.js';

/**
 * Avro binary primitives over a plain Buffer and a cursor, so the hot decoders allocate
 * nothing per value. Lengths and counts are zig-zag varints.
 */
export class AvroReader {
  buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  long(): number {
    const buf = this.buf;
    let pos = this.pos;
    let b = 0;
    let n = 0;
    let shift = 0;
    // The first 28 bits fit int arithmetic; longer values (rare) continue with floats.
    do {
      if (pos >= this.end) throw truncated();
      b = buf[pos++]!;
      n |= (b & 0x7f) << shift;
      shift += 7;
    } while (b & 0x80 && shift < 28);
    if (b & 0x80) {
      let f = n >>> 0;
      let mul = 268435456; // 2^28
      do {
        if (pos >= this.end) throw truncated();
        b = buf[pos++]!;
        f += (b & 0x7f) * mul;
        mul *= 128;
      } while (b & 0x80);
      this.pos = pos;
      return f % 2 === 0 ? f / 2 : -(f + 1) / 2;
    }
    this.pos = pos;
    return (n >>> 1) ^ -(n & 1);
  }

  /** Reads a length-prefixed bytes/string value and returns its start; the end is `pos`. */
  skipBytes(): number {
    const len = this.long();
    const start = this.pos;
    if (len < 0 || start + len > this.end) throw truncated();
    this.pos = start + len;
    return start;
  }

  string(): string {
    const start = this.skipBytes();
    return this.buf.toString('utf8', start, this.pos);
  }

  boolean(): boolean {
    if (this.pos >= this.end) throw truncated();
    return this.buf[this.pos++] !== 0;
  }

  /** Reads a block count of a map or array; a negative count is followed by a byte size. */
  blockCount(): number {
    let n = this.long();
    if (n < 0) {
      n = -n;
      this.long();
    }
    return n;
  }
}

function truncated(): LogflowError {
  return new LogflowError('LF_AVRO_MESSAGE', 'truncated or malformed Avro data');
}

export function longSize(n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  let size = 1;
  while (z >= 128) {
    z = Math.floor(z / 128);
    size++;
  }
  return size;
}

export function writeLong(buf: Buffer, pos: number, n: number): number {
  let z = n >= 0 ? n * 2 : -n * 2 - 1;
  while (z >= 128) {
    buf[pos++] = (z & 0x7f) | 0x80;
    z = Math.floor(z / 128);
  }
  buf[pos++] = z;
  return pos;
}

export function encodeString(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  const out = Buffer.allocUnsafe(longSize(bytes.length) + bytes.length);
  bytes.copy(out, writeLong(out, 0, bytes.length));
  return out;
}

/** A `map<string>` with one block, as Avro writes it. */
export function encodeStringMap(map: Readonly<Record<string, string>>): Buffer {
  const keys = Object.keys(map);
  if (keys.length === 0) return Buffer.from([0]);
  const parts: Buffer[] = [];
  const head = Buffer.allocUnsafe(10);
  parts.push(head.subarray(0, writeLong(head, 0, keys.length)));
  for (const k of keys) parts.push(encodeString(k), encodeString(map[k]!));
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}
