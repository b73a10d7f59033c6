import { LogflowError } from '../errors.js';
/**
 * A batch's counts as bytes, by dimension: what the job's checkpoint stores for open
 * batches and closed slots, what a history row stores per batch, and what a partial
 * carries. One concept, one encoding (this file), read and written nowhere else.
 *
 *   [ff × 8][version 2][dimensions u8]
 *   per dimension: [name: u8 length, bytes][flags u8: 1 = it has visits]
 *     [keys: varint n, then n × (varint length, bytes)]
 *     [cells: varint n, then n × (varint key index, u16 status, varint count, varint bytes)]
 *     with visits: [clients: varint n, then n × (hi i32, lo i32)]
 *                  [visits: varint n, then n × (varint cell index, varint client index)]
 *
 * A cell is a (key, status) of the batch with its lines and bytes; a visit, a distinct
 * client of a cell (for visitors). Version 1 (the URL-only blob, up to the dimensions) is
 * `[count u32][length u32][URL]` per URL with no header: it cannot start with eight ff bytes
 * (a URL 2^32 - 1 bytes long, in a smaller blob). Both are read; version 2 is written.
 */
export const BLOB_VERSION = 2;
const MAGIC = 0xffffffff;
const HEAD = 10;

/** What encoding needs of a dimension's batch and keys (no import of the window). */
export interface BlobSection {
  readonly name: string;
  readonly keys: { byteLength(id: number): number; copyBytes(id: number, out: Buffer, pos: number): number; readonly idLimit: number };
  readonly batch: {
    readonly visitors: boolean;
    readonly keys: Int32Array;
    readonly codes: Int32Array;
    readonly counts: Int32Array;
    readonly bytes: Float64Array;
    readonly size: number;
    readonly visitCells: Int32Array;
    readonly visitHashes: Int32Array;
    readonly visits: number;
  };
}

/** Key id -> index in the blob's key table (-1: not yet): reused, reset after each section. */
let keyIndex = new Int32Array(1024).fill(-1);
/** A client's hash -> its index in the blob's client table: open addressing over (hi, lo, index + 1). */
let clientTable = new Int32Array(3 * 1024);

export function encodeBatchBlob(sections: readonly BlobSection[]): Buffer {
  // Sized once for the worst case, written without a call per field.
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
    size += 2 + 255 + 8 + order.length * 8 + keyBytes + 8 + b.size * 25 + (b.visitors ? 16 + b.visits * 18 : 0);
  }
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(MAGIC, 4);
  out[8] = BLOB_VERSION;
  out[9] = sections.length;
  let pos = HEAD;
  const varint = (v: number) => {
    while (v >= 128) {
      out[pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    out[pos++] = v;
  };
  const i32 = (v: number) => {
    out[pos++] = v & 255;
    out[pos++] = (v >>> 8) & 255;
    out[pos++] = (v >>> 16) & 255;
    out[pos++] = v >>> 24;
  };
  sections.forEach((s, si) => {
    const b = s.batch;
    const name = Buffer.from(s.name, 'utf8');
    out[pos++] = name.length;
    pos += name.copy(out, pos);
    out[pos++] = b.visitors ? 1 : 0;
    const order = orders[si]!;
    varint(order.length);
    for (let j = 0; j < order.length; j++) {
      const k = order[j]!;
      keyIndex[k] = j;
      varint(s.keys.byteLength(k));
      pos = s.keys.copyBytes(k, out, pos);
    }
    varint(b.size);
    for (let i = 0; i < b.size; i++) {
      varint(keyIndex[b.keys[i]!]!);
      const code = b.codes[i]!;
      out[pos++] = code & 255;
      out[pos++] = code >>> 8;
      const count = b.counts[i]!;
      if (count < 128) out[pos++] = count;
      else varint(count);
      varint(b.bytes[i]!);
    }
    for (const k of order) keyIndex[k] = -1;
    if (!b.visitors) return;
    // The clients, each once, then the visits by index: a client visits many cells.
    let cap = 1024;
    while (cap < b.visits * 2) cap *= 2;
    if (clientTable.length < 3 * cap) clientTable = new Int32Array(3 * cap);
    const table = clientTable;
    table.fill(0, 0, 3 * cap);
    const mask = cap - 1;
    const clientOf = new Int32Array(b.visits);
    const firsts: number[] = [];
    for (let v = 0; v < b.visits; v++) {
      const hi = b.visitHashes[2 * v]!;
      const lo = b.visitHashes[2 * v + 1]!;
      let slot = (hi ^ (lo >>> 11)) & mask;
      for (;;) {
        const at = 3 * slot;
        if (table[at + 2] === 0) {
          table[at] = hi;
          table[at + 1] = lo;
          table[at + 2] = firsts.length + 1;
          clientOf[v] = firsts.length;
          firsts.push(v);
          break;
        }
        if (table[at] === hi && table[at + 1] === lo) {
          clientOf[v] = table[at + 2]! - 1;
          break;
        }
        slot = (slot + 1) & mask;
      }
    }
    varint(firsts.length);
    for (const v of firsts) {
      i32(b.visitHashes[2 * v]!);
      i32(b.visitHashes[2 * v + 1]!);
    }
    varint(b.visits);
    for (let v = 0; v < b.visits; v++) {
      varint(b.visitCells[v]!);
      varint(clientOf[v]!);
    }
  });
  return Buffer.from(out.subarray(0, pos));
}

/** Whether `blob` is a version-2 (dimensions) blob. */
export function isDimensionBlob(blob: Buffer): boolean {
  return blob.length >= HEAD && blob.readUInt32LE(0) === MAGIC && blob.readUInt32LE(4) === MAGIC;
}

/**
 * Reads a blob without allocating per entry: `nextSection()` moves to each dimension
 * (`name`, `visitors`, its keys at `keyStart(i)`..`keyEnd(i)`), then `nextCell()` to each
 * cell (`key` index, `code`, `count`, `bytes`), then `nextVisit()` to each visit (`cell`
 * index, client `hi`, `lo`). A version-1 blob reads as one section `url` of cells with
 * status 0 and no bytes, and no visits.
 */
export class BlobReader {
  readonly blob: Buffer;
  name = '';
  visitors = false;
  key = 0;
  code = 0;
  count = 0;
  bytes = 0;
  cell = 0;
  hi = 0;
  lo = 0;
  readonly #v1: boolean;
  #sections: number;
  #pos: number;
  #keyStarts: number[] = [];
  #keyEnds: number[] = [];
  #cellsLeft = 0;
  #visitsLeft = -1;
  #clientsAt = 0;

  constructor(blob: Buffer) {
    this.blob = blob;
    this.#v1 = !isDimensionBlob(blob);
    if (this.#v1) {
      this.#sections = blob.length > 0 ? 1 : 0;
      this.#pos = 0;
    } else {
      if (blob[8] !== BLOB_VERSION) throw new LogflowError('LF_CHECKPOINT_CORRUPT', `counts blob version ${blob[8]}: this logflow reads 1 and ${BLOB_VERSION}`);
      this.#sections = blob[9]!;
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
    while (this.nextVisit());
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
      this.#cellsLeft = this.#keyStarts.length;
      this.#visitsLeft = 0;
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
    this.#cellsLeft = this.#varint();
    this.#visitsLeft = -1;
    return true;
  }

  /** Moves to the next cell of this dimension; false after the last. */
  nextCell(): boolean {
    if (this.#cellsLeft === 0) return false;
    this.#cellsLeft--;
    const blob = this.blob;
    if (this.#v1) {
      this.key = this.#keyStarts.length - this.#cellsLeft - 1;
      this.count = blob.readUInt32LE(this.#keyStarts[this.key]! - 8);
      this.code = 0;
      this.bytes = 0;
      return true;
    }
    this.key = this.#varint();
    this.code = blob.readUInt16LE(this.#pos);
    this.#pos += 2;
    this.count = this.#varint();
    this.bytes = this.#varint();
    return true;
  }

  /** Moves to the next visit of this dimension (after its cells); false after the last. */
  nextVisit(): boolean {
    while (this.nextCell());
    if (this.#visitsLeft === -1) {
      // The client table follows the cells.
      this.#visitsLeft = 0;
      if (this.visitors) {
        const clients = this.#varint();
        this.#clientsAt = this.#pos;
        this.#pos += 8 * clients;
        this.#visitsLeft = this.#varint();
      }
    }
    if (this.#visitsLeft === 0) return false;
    this.#visitsLeft--;
    this.cell = this.#varint();
    const at = this.#clientsAt + 8 * this.#varint();
    this.hi = this.blob.readInt32LE(at);
    this.lo = this.blob.readInt32LE(at + 4);
    return true;
  }

  #varint(): number {
    const blob = this.blob;
    let v = 0;
    let scale = 1;
    for (;;) {
      const b = blob[this.#pos++];
      if (b === undefined) throw new LogflowError('LF_CHECKPOINT_CORRUPT', 'counts blob cut short');
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 128;
    }
  }
}
