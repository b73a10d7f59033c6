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
  // Sized once for the worst case (an entry is at most 31 bytes), written without a call per field.
  let size = HEAD;
  const orders: number[][] = [];
  for (const s of sections) {
    const b = s.batch;
    if (keyIndex.length < s.keys.idLimit) {
      let n = keyIndex.length;
      while (n < s.keys.idLimit) n *= 2;
      keyIndex = new Int32Array(n).fill(-1);
    }
    // The key table, in order of first appearance.
    const order: number[] = [];
    let keyBytes = 0;
    for (let i = 0; i < b.size; i++) {
      const k = b.keys[i]!;
      if (keyIndex[k] === -1) {
        keyIndex[k] = order.length;
        order.push(k);
        keyBytes += s.keys.byteLength(k);
      }
    }
    for (const k of order) keyIndex[k] = -1;
    orders.push(order);
    size += 2 + 255 + 8 + order.length * 8 + keyBytes + 8 + b.size * 31;
  }
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32LE(MAGIC, 0);
  out[4] = BLOB_VERSION;
  out[5] = sections.length;
  let pos = HEAD;
  const varint = (v: number) => {
    while (v >= 128) {
      out[pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    out[pos++] = v;
  };
  sections.forEach((s, si) => {
    const name = Buffer.from(s.name, 'utf8');
    out[pos++] = name.length;
    pos += name.copy(out, pos);
    out[pos++] = s.visitors ? 1 : 0;
    const order = orders[si]!;
    varint(order.length);
    for (let j = 0; j < order.length; j++) {
      const k = order[j]!;
      keyIndex[k] = j;
      varint(s.keys.byteLength(k));
      pos = s.keys.copyBytes(k, out, pos);
    }
    const b = s.batch;
    varint(b.size);
    const visitors = s.visitors;
    for (let i = 0; i < b.size; i++) {
      varint(keyIndex[b.keys[i]!]!);
      const code = b.codes[i]!;
      out[pos++] = code & 255;
      out[pos++] = code >>> 8;
      const count = b.counts[i]!;
      if (count < 128) out[pos++] = count;
      else varint(count);
      varint(b.bytes[i]!);
      if (visitors) {
        const hi = b.hashes[2 * i]!;
        const lo = b.hashes[2 * i + 1]!;
        out[pos++] = hi & 255;
        out[pos++] = (hi >>> 8) & 255;
        out[pos++] = (hi >>> 16) & 255;
        out[pos++] = hi >>> 24;
        out[pos++] = lo & 255;
        out[pos++] = (lo >>> 8) & 255;
        out[pos++] = (lo >>> 16) & 255;
        out[pos++] = lo >>> 24;
      }
    }
    for (const k of order) keyIndex[k] = -1;
  });
  return Buffer.from(out.subarray(0, pos));
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
