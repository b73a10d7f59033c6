import { BlobReader, isDimensionBlob } from './batch-blob.js';

/**
 * The URL counts of a counts blob. Version 1 (up to the dimensions): `[count u32 LE][URL
 * length u32 LE][URL bytes]` per URL, still read from old checkpoints and history rows, and
 * written by `encodeCounts` for tools and tests. Version 2 (batch-blob.ts) holds every
 * dimension: these read its `url` dimension, a cell per (URL, status), so a URL may come
 * several times (the readers sum them).
 */
const ENTRY_HEAD = 8;

/**
 * Walks a blob's URL counts without allocating per entry: after each `next()` that returns
 * true, the URL's bytes are `blob[start, end)` and its count is `count`.
 */
export class CountsCursor {
  readonly blob: Buffer;
  start = 0;
  end = 0;
  count = 0;
  #pos = 0;
  readonly #reader: BlobReader | undefined;

  constructor(blob: Buffer) {
    this.blob = blob;
    if (isDimensionBlob(blob)) {
      const reader = new BlobReader(blob);
      let found = false;
      while (reader.nextSection()) {
        if (reader.name === 'url') {
          found = true;
          break;
        }
      }
      this.#reader = reader;
      if (!found) this.#pos = blob.length;
    }
  }

  next(): boolean {
    const reader = this.#reader;
    if (reader) {
      if (this.#pos >= this.blob.length || !reader.nextCell()) return false;
      this.start = reader.keyStart(reader.key);
      this.end = reader.keyEnd(reader.key);
      this.count = reader.count;
      return true;
    }
    const blob = this.blob;
    const pos = this.#pos;
    if (pos >= blob.length) return false;
    this.count = blob.readUInt32LE(pos);
    this.start = pos + ENTRY_HEAD;
    this.end = this.start + blob.readUInt32LE(pos + 4);
    this.#pos = this.end;
    return true;
  }
}

/** Encodes counts by URL string. */
export function encodeCounts(entries: Iterable<readonly [string, number]>): Buffer {
  const parts: Buffer[] = [];
  for (const [url, count] of entries) {
    const bytes = Buffer.from(url, 'utf8');
    const head = Buffer.allocUnsafe(ENTRY_HEAD);
    head.writeUInt32LE(count, 0);
    head.writeUInt32LE(bytes.length, 4);
    parts.push(head, bytes);
  }
  return Buffer.concat(parts);
}

/** What encodeInterned needs of the URL interner: the bytes of a URL id. */
export interface UrlBytes {
  byteLength(id: number): number;
  /** Copies the URL's bytes to `out` at `pos`; returns the position after them. */
  copyBytes(id: number, out: Buffer, pos: number): number;
}

/** Encodes `n` interned URLs (`ids[j]` counted `countOf(id, j)`), without a string per URL. */
export function encodeInterned(urls: UrlBytes, ids: Int32Array, n: number, countOf: (id: number, j: number) => number): Buffer {
  let size = 0;
  for (let j = 0; j < n; j++) size += ENTRY_HEAD + urls.byteLength(ids[j]!);
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (let j = 0; j < n; j++) {
    const id = ids[j]!;
    out.writeUInt32LE(countOf(id, j), pos);
    out.writeUInt32LE(urls.byteLength(id), pos + 4);
    pos = urls.copyBytes(id, out, pos + ENTRY_HEAD);
  }
  return out;
}

/** Decodes a blob to `[url, count]` pairs (a URL once, its entries summed). */
export function* decodeCounts(blob: Buffer): IterableIterator<[string, number]> {
  const c = new CountsCursor(blob);
  if (!isDimensionBlob(blob)) {
    while (c.next()) yield [blob.toString('utf8', c.start, c.end), c.count];
    return;
  }
  const sums = new Map<string, number>();
  while (c.next()) {
    const url = blob.toString('utf8', c.start, c.end);
    sums.set(url, (sums.get(url) ?? 0) + c.count);
  }
  yield* sums;
}

/** The count of one URL in a blob (0 if absent), without decoding the others. */
export function countOfUrl(blob: Buffer, url: Buffer): number {
  const c = new CountsCursor(blob);
  let n = 0;
  while (c.next()) {
    if (c.end - c.start === url.length && blob.compare(url, 0, url.length, c.start, c.end) === 0) n += c.count;
  }
  return n;
}
