/**
 * The counts blob: URL counts as `[count u32 LE][URL length u32 LE][URL bytes]` per URL.
 * The job's checkpoint stores open batches and closed slots this way, and the history
 * table stores one per closed batch; both read and write it through this file only.
 */
const ENTRY_HEAD = 8;

/**
 * Walks a blob without allocating: after each `next()` that returns true, the URL's bytes
 * are `blob[start, end)` and its count is `count`.
 */
export class CountsCursor {
  readonly blob: Buffer;
  start = 0;
  end = 0;
  count = 0;
  #pos = 0;

  constructor(blob: Buffer) {
    this.blob = blob;
  }

  next(): boolean {
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

/** Decodes a blob to `[url, count]` pairs. */
export function* decodeCounts(blob: Buffer): IterableIterator<[string, number]> {
  const c = new CountsCursor(blob);
  while (c.next()) yield [blob.toString('utf8', c.start, c.end), c.count];
}

/** The count of one URL in a blob (0 if absent), without decoding the others. */
export function countOfUrl(blob: Buffer, url: Buffer): number {
  const c = new CountsCursor(blob);
  while (c.next()) {
    if (c.end - c.start === url.length && blob.compare(url, 0, url.length, c.start, c.end) === 0) return c.count;
  }
  return 0;
}
