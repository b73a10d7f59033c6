/**
 * A batch's counts as bytes, by dimension: what the job's checkpoint stores for open
 * batches and closed slots, what a history row stores per batch, and what a partial
 * carries. One concept, one encoding (this file), read and written nowhere else.
 *
 *   [ff ff ff ff][version 2][dimensions u8]
 *   per dimension: [name: u8 length, bytes][flags u8: 1 = entries carry a client hash]
 *     [keys: varint n, then n × (varint length, bytes)]
 *     [entries: varint n, then n × (varint key index, u16 status, varint count, varint bytes[, hi i32, lo i32])]
 *
 * Version 1 (the URL-only blob, up to the dimensions) is `[count u32][length u32][URL]`
 * per URL with no header: it cannot start with ff ff ff ff (a count of 2^32 - 1 in one
 * batch). Both are read; version 2 is written.
 */
export const BLOB_VERSION = 2;
const MAGIC = 0xffffffff;
const HEAD = 6;

/** What encoding needs of a dimension's batch and keys (no import of the window). */
export interface BlobSection {
  readonly name: string;
  readonly visitors: boolean;
  readonly keys: { byteLength(id: number): number; copyBytes(id: number, out: Buffer, pos: number): number; readonly idLimit: number };
  readonly batch: { readonly keys: Int32Array; readonly codes: Int32Array; readonly hashes: Int32Array; readonly counts: Int32Array; readonly bytes: Float64Array; readonly size: number };
}

/** Key id -> index in the blob's key table (-1: not yet): reused, reset after each section. */
let keyIndex = new Int32Array(1024).fill(-1);

export function encodeBatchBlob(sections: readonly BlobSection[]): Buffer {
  const w = new BlobWriter();
  w.u32(MAGIC);
  w.u8(BLOB_VERSION);
  w.u8(sections.length);
  for (const s of sections) {
    const name = Buffer.from(s.name, 'utf8');
    w.u8(name.length);
    w.bytes(name);
    w.u8(s.visitors ? 1 : 0);
    const b = s.batch;
    if (keyIndex.length < s.keys.idLimit) {
      let n = keyIndex.length;
      while (n < s.keys.idLimit) n *= 2;
      keyIndex = new Int32Array(n).fill(-1);
    }
    // The key table, in order of first appearance.
    const order: number[] = [];
    for (let i = 0; i < b.size; i++) {
      const k = b.keys[i]!;
      if (keyIndex[k] === -1) {
        keyIndex[k] = order.length;
        order.push(k);
      }
    }
    w.varint(order.length);
    for (const k of order) {
      const len = s.keys.byteLength(k);
      w.varint(len);
      w.ensure(len);
      w.pos = s.keys.copyBytes(k, w.buf, w.pos);
    }
    w.varint(b.size);
    for (let i = 0; i < b.size; i++) {
      w.varint(keyIndex[b.keys[i]!]!);
      w.u16(b.codes[i]!);
      w.varint(b.counts[i]!);
      w.varint(b.bytes[i]!);
      if (s.visitors) {
        w.i32(b.hashes[2 * i]!);
        w.i32(b.hashes[2 * i + 1]!);
      }
    }
    for (const k of order) keyIndex[k] = -1;
  }
  return w.done();
}

/** Whether `blob` is a version-2 (dimensions) blob. */
export function isDimensionBlob(blob: Buffer): boolean {
  return blob.length >= HEAD && blob.readUInt32LE(0) === MAGIC;
}

/**
 * Reads a blob without allocating per entry: `nextSection()` moves to each dimension
 * (`name`, `visitors`, its keys at `keyStart(i)`..`keyEnd(i)`), then `nextEntry()` to each
 * entry (`key` index, `code`, `count`, `bytes`, `hi`, `lo`). A version-1 blob reads as one
 * section `url` of entries with status 0 and no bytes.
 */
export class BlobReader {
  readonly blob: Buffer;
  name = '';
  visitors = false;
  key = 0;
  code = 0;
  count = 0;
  bytes = 0;
  hi = 0;
  lo = 0;
  readonly #v1: boolean;
  #sections: number;
  #pos: number;
  #keyStarts: number[] = [];
  #keyEnds: number[] = [];
  #entriesLeft = 0;

  constructor(blob: Buffer) {
    this.blob = blob;
    this.#v1 = !isDimensionBlob(blob);
    if (this.#v1) {
      this.#sections = blob.length > 0 ? 1 : 0;
      this.#pos = 0;
    } else {
      if (blob[4] !== BLOB_VERSION) throw new RangeError(`counts blob version ${blob[4]}: this logflow reads 1 and ${BLOB_VERSION}`);
      this.#sections = blob[5]!;
      this.#pos = HEAD;
    }
  }

  get keyCount(): number {
    return this.#keyStarts.length;
  }

  keyStart(i: number): number {
    return this.#keyStarts[i]!;
  }

  keyEnd(i: number): number {
    return this.#keyEnds[i]!;
  }

  /** Moves to the next dimension (skipping what is left of this one); false after the last. */
  nextSection(): boolean {
    while (this.#entriesLeft > 0) this.nextEntry();
    if (this.#sections === 0) return false;
    this.#sections--;
    const blob = this.blob;
    this.#keyStarts = [];
    this.#keyEnds = [];
    if (this.#v1) {
      // Version 1: the URL of each entry is its key.
      this.name = 'url';
      this.visitors = false;
      for (let p = 0; p < blob.length;) {
        const len = blob.readUInt32LE(p + 4);
        this.#keyStarts.push(p + 8);
        this.#keyEnds.push(p + 8 + len);
        p += 8 + len;
      }
      this.#entriesLeft = this.#keyStarts.length;
      this.#pos = 0;
      return true;
    }
    const nameLen = blob[this.#pos++]!;
    this.name = blob.toString('utf8', this.#pos, this.#pos + nameLen);
    this.#pos += nameLen;
    this.visitors = (blob[this.#pos++]! & 1) === 1;
    const keys = this.#varint();
    for (let i = 0; i < keys; i++) {
      const len = this.#varint();
      this.#keyStarts.push(this.#pos);
      this.#keyEnds.push(this.#pos + len);
      this.#pos += len;
    }
    this.#entriesLeft = this.#varint();
    return true;
  }

  /** Moves to the next entry of this dimension; false after the last. */
  nextEntry(): boolean {
    if (this.#entriesLeft === 0) return false;
    this.#entriesLeft--;
    const blob = this.blob;
    if (this.#v1) {
      this.key = this.#keyStarts.length - this.#entriesLeft - 1;
      this.count = blob.readUInt32LE(this.#keyStarts[this.key]! - 8);
      this.code = 0;
      this.bytes = 0;
      this.hi = 0;
      this.lo = 0;
      return true;
    }
    this.key = this.#varint();
    this.code = blob.readUInt16LE(this.#pos);
    this.#pos += 2;
    this.count = this.#varint();
    this.bytes = this.#varint();
    if (this.visitors) {
      this.hi = blob.readInt32LE(this.#pos);
      this.lo = blob.readInt32LE(this.#pos + 4);
      this.#pos += 8;
    } else {
      this.hi = 0;
      this.lo = 0;
    }
    return true;
  }

  #varint(): number {
    const blob = this.blob;
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = blob[this.#pos++];
      if (b === undefined) throw new RangeError('counts blob cut short');
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 128;
    }
  }
}

/** A growing buffer for one blob. */
class BlobWriter {
  buf = Buffer.allocUnsafe(4096);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16LE(v, this.pos);
    this.pos += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v, this.pos);
    this.pos += 4;
  }

  i32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32LE(v, this.pos);
    this.pos += 4;
  }

  bytes(b: Buffer): void {
    this.ensure(b.length);
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }

  /** An unsigned integer up to 2^53, 7 bits a byte. */
  varint(v: number): void {
    this.ensure(8);
    const buf = this.buf;
    while (v >= 128) {
      buf[this.pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[this.pos++] = v;
  }

  done(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.pos));
  }
}
