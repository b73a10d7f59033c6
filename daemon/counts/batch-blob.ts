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

/**
 * Where blobs up to SCRATCH_BYTES are written before their bytes are copied out: a history
 * row's blob was two allocations (the worst case, then the exact copy), a fresh 8 KB pool
 * every few rows (27 h replay: 97,000 rows per 1M lines). Larger blobs (a window slot of
 * many keys) get their own, as before, so that no large buffer stays alive for them.
 */
const SCRATCH_BYTES = 1024 * 1024;
let scratch = Buffer.allocUnsafeSlow(64 * 1024);
/**
 * Three int arrays reused as `scratch` (up to SCRATCH_BYTES each): the key tables, a
 * visit's client index, the first visit of each client. They were JS arrays grown by push,
 * made anew per blob: for a window slot of 100k visits, large objects allocated straight
 * in the old generation every second, and a full collection of the job's heap every
 * half second (--trace-gc, end-to-end run).
 */
const scratchInt = [new Int32Array(1024), new Int32Array(1024), new Int32Array(1024)];

/** Scratch int array `which` with room for `n` (a one-off array past SCRATCH_BYTES). */
function scratchInts(which: number, n: number): Int32Array {
  const have = scratchInt[which]!;
  if (n <= have.length) return have;
  if (n > SCRATCH_BYTES / 4) return new Int32Array(n);
  let len = have.length;
  while (len < n) len *= 2;
  return (scratchInt[which] = new Int32Array(len));
}

/** A dimension's name as bytes: a few names, asked for at every blob (one a second per history row). */
const NAME_BYTES = new Map<string, Buffer>();
function nameBytes(name: string): Buffer {
  let bytes = NAME_BYTES.get(name);
  if (!bytes) NAME_BYTES.set(name, (bytes = Buffer.from(name, 'utf8')));
  return bytes;
}

export function encodeBatchBlob(sections: readonly BlobSection[]): Buffer {
  // Sized once for the worst case, written without a call per field.
  let size = HEAD;
  // Every section's key table, one after the other: `orderAt[si]` is where section si's starts.
  let cells = 0;
  for (const s of sections) cells += s.batch.size;
  const orderAll = scratchInts(0, cells);
  const orderAt = new Array<number>(sections.length + 1);
  let n = 0;
  sections.forEach((s, si) => {
    const b = s.batch;
    if (keyIndex.length < s.keys.idLimit) {
      let len = keyIndex.length;
      while (len < s.keys.idLimit) len *= 2;
      keyIndex = new Int32Array(len).fill(-1);
    }
    // The key table, in order of first appearance.
    orderAt[si] = n;
    let keyBytes = 0;
    for (let i = 0; i < b.size; i++) {
      const k = b.keys[i]!;
      if (keyIndex[k] === -1) {
        keyIndex[k] = n - orderAt[si]!;
        orderAll[n++] = k;
        keyBytes += s.keys.byteLength(k);
      }
    }
    for (let j = orderAt[si]!; j < n; j++) keyIndex[orderAll[j]!] = -1;
    size += 2 + 255 + 8 + (n - orderAt[si]!) * 8 + keyBytes + 8 + b.size * 25 + (b.visitors ? 16 + b.visits * 18 : 0);
  });
  orderAt[sections.length] = n;
  if (size <= SCRATCH_BYTES && scratch.length < size) scratch = Buffer.allocUnsafeSlow(SCRATCH_BYTES);
  const out = size <= SCRATCH_BYTES ? scratch : Buffer.allocUnsafe(size);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(MAGIC, 4);
  out[8] = BLOB_VERSION;
  out[9] = sections.length;
  let pos = HEAD;
  const varint = (v: number) => {
    // Below 2^31 (nearly every count, index and byte sum) by int32 shifts: the float
    // division of the general case was most of the encoding (job-thread profile, issue 28).
    if (v < 0x80000000) {
      while (v >= 128) {
        out[pos++] = (v & 127) | 0x80;
        v >>>= 7;
      }
      out[pos++] = v;
      return;
    }
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
    const name = nameBytes(s.name);
    out[pos++] = name.length;
    for (let j = 0; j < name.length; j++) out[pos++] = name[j]!;
    out[pos++] = b.visitors ? 1 : 0;
    const from = orderAt[si]!;
    const to = orderAt[si + 1]!;
    varint(to - from);
    for (let j = from; j < to; j++) {
      const k = orderAll[j]!;
      keyIndex[k] = j - from;
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
    for (let j = from; j < to; j++) keyIndex[orderAll[j]!] = -1;
    if (!b.visitors) return;
    // The clients, each once, then the visits by index: a client visits many cells.
    // (Sized by the batch: a history row of one second's few lines should not clear 12 KB.)
    let cap = 16;
    while (cap < b.visits * 2) cap *= 2;
    if (clientTable.length < 3 * cap) clientTable = new Int32Array(3 * cap);
    const table = clientTable;
    table.fill(0, 0, 3 * cap);
    const mask = cap - 1;
    const clientOf = scratchInts(1, b.visits);
    // The first visit of each client, in order (`clients` of them).
    const firsts = scratchInts(2, b.visits);
    let clients = 0;
    for (let v = 0; v < b.visits; v++) {
      const hi = b.visitHashes[2 * v]!;
      const lo = b.visitHashes[2 * v + 1]!;
      let slot = (hi ^ (lo >>> 11)) & mask;
      for (;;) {
        const at = 3 * slot;
        if (table[at + 2] === 0) {
          table[at] = hi;
          table[at + 1] = lo;
          table[at + 2] = clients + 1;
          clientOf[v] = clients;
          firsts[clients++] = v;
          break;
        }
        if (table[at] === hi && table[at + 1] === lo) {
          clientOf[v] = table[at + 2]! - 1;
          break;
        }
        slot = (slot + 1) & mask;
      }
    }
    varint(clients);
    for (let c = 0; c < clients; c++) {
      const v = firsts[c]!;
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

/** A section as merged from blobs: keys by their bytes (latin1 strings: one char per byte), cells, visits. */
interface MergedSection {
  visitors: boolean;
  readonly keyIndex: Map<string, number>;
  readonly keys: string[];
  /** (key index, status) -> cell index. */
  readonly cellIndex: Map<number, number>;
  readonly cellKeys: number[];
  readonly cellCodes: number[];
  readonly cellCounts: number[];
  readonly cellBytes: number[];
  /** Distinct (cell, client) visits. */
  readonly visits: Map<string, { cell: number; hi: number; lo: number }>;
}

/**
 * Blobs of the same batch interval as one (a history row saved again: more lines of its
 * second): per dimension, the same (key, status) cells' lines and bytes added, visits
 * made distinct again. Versions 1 and 2 are read; version 2 is written.
 */
export function mergeBatchBlobs(blobs: readonly Buffer[]): Buffer {
  const sections = new Map<string, MergedSection>();
  for (const blob of blobs) {
    const r = new BlobReader(blob);
    while (r.nextSection()) {
      let s = sections.get(r.name);
      if (!s) {
        s = { visitors: false, keyIndex: new Map(), keys: [], cellIndex: new Map(), cellKeys: [], cellCodes: [], cellCounts: [], cellBytes: [], visits: new Map() };
        sections.set(r.name, s);
      }
      s.visitors ||= r.visitors;
      const keyOf: number[] = [];
      for (let i = 0; i < r.keyCount; i++) {
        const key = blob.toString('latin1', r.keyStart(i), r.keyEnd(i));
        let at = s.keyIndex.get(key);
        if (at === undefined) {
          at = s.keys.length;
          s.keys.push(key);
          s.keyIndex.set(key, at);
        }
        keyOf.push(at);
      }
      const cellOf: number[] = [];
      while (r.nextCell()) {
        const key = keyOf[r.key]!;
        const id = key * 65536 + r.code;
        let cell = s.cellIndex.get(id);
        if (cell === undefined) {
          cell = s.cellKeys.length;
          s.cellIndex.set(id, cell);
          s.cellKeys.push(key);
          s.cellCodes.push(r.code);
          s.cellCounts.push(0);
          s.cellBytes.push(0);
        }
        s.cellCounts[cell]! += r.count;
        s.cellBytes[cell]! += r.bytes;
        cellOf.push(cell);
      }
      while (r.nextVisit()) {
        const cell = cellOf[r.cell]!;
        s.visits.set(`${cell},${r.hi},${r.lo}`, { cell, hi: r.hi, lo: r.lo });
      }
    }
  }
  const out = new BlobWriter();
  out.u32(MAGIC);
  out.u32(MAGIC);
  out.byte(BLOB_VERSION);
  out.byte(sections.size);
  for (const [name, s] of sections) {
    const nameBytes = Buffer.from(name, 'utf8');
    out.byte(nameBytes.length);
    out.bytes(nameBytes);
    out.byte(s.visitors ? 1 : 0);
    out.varint(s.keys.length);
    for (const key of s.keys) {
      out.varint(key.length);
      out.bytes(Buffer.from(key, 'latin1'));
    }
    out.varint(s.cellKeys.length);
    for (let c = 0; c < s.cellKeys.length; c++) {
      out.varint(s.cellKeys[c]!);
      out.byte(s.cellCodes[c]! & 255);
      out.byte(s.cellCodes[c]! >>> 8);
      out.varint(s.cellCounts[c]!);
      out.varint(s.cellBytes[c]!);
    }
    if (!s.visitors) continue;
    const clientIndex = new Map<string, number>();
    const clients: { hi: number; lo: number }[] = [];
    const visits: { cell: number; client: number }[] = [];
    for (const v of s.visits.values()) {
      const id = `${v.hi},${v.lo}`;
      let client = clientIndex.get(id);
      if (client === undefined) {
        client = clients.length;
        clientIndex.set(id, client);
        clients.push(v);
      }
      visits.push({ cell: v.cell, client });
    }
    out.varint(clients.length);
    for (const c of clients) {
      out.i32(c.hi);
      out.i32(c.lo);
    }
    out.varint(visits.length);
    for (const v of visits) {
      out.varint(v.cell);
      out.varint(v.client);
    }
  }
  return out.done();
}

/** A growing buffer for the merge (the hot path, `encodeBatchBlob`, sizes its buffer once). */
class BlobWriter {
  #buf = Buffer.allocUnsafe(256);
  #pos = 0;

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  byte(v: number): void {
    this.#room(1);
    this.#buf[this.#pos++] = v;
  }

  u32(v: number): void {
    this.#room(4);
    this.#pos = this.#buf.writeUInt32LE(v, this.#pos);
  }

  i32(v: number): void {
    this.#room(4);
    this.#pos = this.#buf.writeInt32LE(v, this.#pos);
  }

  varint(v: number): void {
    this.#room(10);
    while (v >= 128) {
      this.#buf[this.#pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.#buf[this.#pos++] = v;
  }

  bytes(b: Buffer): void {
    this.#room(b.length);
    this.#pos += b.copy(this.#buf, this.#pos);
  }

  done(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#pos));
  }
}
