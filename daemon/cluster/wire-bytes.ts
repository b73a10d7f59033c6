import { LogflowError } from '../errors.js';
import type { UrlBytes as KeyBytes } from '../counts/counts-codec.js';

/**
 * The byte layer of the cluster's binary messages (partials, merge results): unsigned
 * varints (LEB128, up to 2^53), zigzag varints for signed values, and length-prefixed byte
 * strings. A URL costs its bytes plus one or two; a count under 128 one byte (JSON spent
 * about 10 on `["",n],` around every URL).
 */
export class ByteWriter {
  #buf: Buffer;
  #at = 0;

  constructor(initialBytes = 4096) {
    this.#buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes written so far; setting it back drops what came after (a cut that did not fit). */
  get length(): number {
    return this.#at;
  }

  set length(at: number) {
    if (at > this.#at) throw new LogflowError('LF_INVARIANT', `cannot extend a writer from ${this.#at} to ${at}`);
    this.#at = at;
  }

  u8(v: number): void {
    this.#room(1);
    this.#buf[this.#at++] = v;
  }

  /** Rewrites a byte written before (a flag known only at the end). */
  patchU8(at: number, v: number): void {
    if (at >= this.#at) throw new LogflowError('LF_INVARIANT', `byte ${at} was not written`);
    this.#buf[at] = v;
  }

  /** Rewrites four bytes written before (an offset known only at the end). */
  patchU32le(at: number, v: number): void {
    if (at + 4 > this.#at) throw new LogflowError('LF_INVARIANT', `bytes ${at}..${at + 3} were not written`);
    this.#buf.writeUInt32LE(v, at);
  }

  varint(v: number): void {
    if (!(v >= 0 && Number.isSafeInteger(v))) throw new LogflowError('LF_INVARIANT', `varint out of range: ${v}`);
    this.#room(8);
    const buf = this.#buf;
    let at = this.#at;
    while (v >= 0x80) {
      buf[at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    buf[at++] = v;
    this.#at = at;
  }

  /** Zigzag: 0, -1, 1, -2, ... as 0, 1, 2, 3, ... */
  svarint(v: number): void {
    this.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  /** A byte string: its length, then its bytes. */
  bytes(src: Uint8Array, start = 0, end = src.length): void {
    const len = end - start;
    this.varint(len);
    this.#room(len);
    const buf = this.#buf;
    let at = this.#at;
    // Short keys by a loop: Buffer.copy's call costs more than a URL's few dozen bytes.
    if (len <= 48) for (let i = start; i < end; i++) buf[at++] = src[i]!;
    else at += Buffer.from(src.buffer, src.byteOffset, src.byteLength).copy(buf, at, start, end);
    this.#at = at;
  }

  /** An interned key (a URL id of `keys`): its length, then its bytes, copied from the interner's arena. */
  key(keys: KeyBytes, id: number): void {
    const len = keys.byteLength(id);
    this.varint(len);
    this.#room(len);
    this.#at = keys.copyBytes(id, this.#buf, this.#at);
  }

  /** An interned key's bytes without their length (the store's blob format has its own). */
  rawKey(keys: KeyBytes, id: number): void {
    this.#room(keys.byteLength(id));
    this.#at = keys.copyBytes(id, this.#buf, this.#at);
  }

  u32le(v: number): void {
    this.#room(4);
    this.#buf.writeUInt32LE(v, this.#at);
    this.#at += 4;
  }

  /** Bytes as they are (a prefix written once, a blob in another encoding). */
  raw(src: Uint8Array): void {
    this.#room(src.length);
    this.#buf.set(src, this.#at);
    this.#at += src.length;
  }

  /** A copy of what was written (the writer is reused). */
  toBuffer(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#at));
  }

  reset(): void {
    this.#at = 0;
  }

  #room(n: number): void {
    if (this.#at + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#at + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#at);
    this.#buf = next;
  }
}

/** A wrong message: too short, or a field out of range. Its text says where. */
export class WireError extends LogflowError {
  constructor(message: string) {
    super('LF_WIRE', message);
  }
}

/** Reads what a ByteWriter wrote; byte strings come back as ranges of `data`, not copies. */
export class ByteReader {
  readonly data: Buffer;
  #at = 0;
  /** The last `bytes()` read: `data[start, end)`. */
  start = 0;
  end = 0;

  constructor(data: Uint8Array) {
    this.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  get done(): boolean {
    return this.#at >= this.data.length;
  }

  get position(): number {
    return this.#at;
  }

  u8(): number {
    if (this.#at >= this.data.length) throw new WireError(`message ends at byte ${this.#at}`);
    return this.data[this.#at++]!;
  }

  varint(): number {
    const data = this.data;
    let v = 0;
    let scale = 1;
    for (;;) {
      if (this.#at >= data.length) throw new WireError(`message ends inside a number at byte ${this.#at}`);
      const b = data[this.#at++]!;
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new WireError(`number too long at byte ${this.#at}`);
    }
  }

  svarint(): number {
    const z = this.varint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  /** Reads a byte string into `start`/`end`. */
  bytes(): void {
    const len = this.varint();
    if (this.#at + len > this.data.length) throw new WireError(`a ${len}-byte string runs past the message's end at byte ${this.#at}`);
    this.start = this.#at;
    this.end = this.#at + len;
    this.#at += len;
  }

  u32le(): number {
    if (this.#at + 4 > this.data.length) throw new WireError(`message ends at byte ${this.#at}`);
    const v = this.data.readUInt32LE(this.#at);
    this.#at += 4;
    return v;
  }

  /** The rest of the message, as a range of `data`. */
  rest(): Buffer {
    const out = this.data.subarray(this.#at);
    this.#at = this.data.length;
    return out;
  }
}

/** FNV-1a over bytes, seeded by a dimension tag: the same key goes to the same shard everywhere. */
export function hashBytes(tag: number, buf: Uint8Array, start: number, end: number): number {
  let h = Math.imul(0x811c9dc5 ^ tag, 0x01000193);
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h >>> 0;
}
