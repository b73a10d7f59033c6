import { createReadStream, read, readSync, type ReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import type { RunningHash } from './fingerprint.js';

/** Where a file's bytes come from: the file itself, or its gzip stream, decompressed. */
export interface ByteSource {
  /** Reads up to `len` bytes into `buf` at `at`; 0 at the end. */
  read(buf: Buffer, at: number, len: number): number | Promise<number>;
  /** Offset of the next byte (in the decompressed stream for gzip). */
  readonly position: number;
  /** Bytes left to read, when known (Infinity for a stream). */
  readonly remaining: number;
  /** Resolves once nothing reads the descriptor any more (the caller closes it after). */
  close(): void | Promise<void>;
}

/**
 * A plain file up to the size it had when it was opened, or to the size it grew to while
 * it was still being written (`extend`). A synchronous read of a cached megabyte takes ~0.3 ms; through the thread
 * pool it took ~3 ms with both cores busy (measured), which made reading the bottleneck.
 */
export class PlainSource implements ByteSource {
  readonly #fd: number;
  #size: number;
  readonly #hash: RunningHash | undefined;
  position: number;

  /** `hash`, when given (and `start` is 0), gets every byte read. */
  constructor(fd: number, size: number, start: number, hash?: RunningHash) {
    this.#fd = fd;
    this.#size = size;
    this.position = start;
    this.#hash = start === 0 ? hash : undefined;
  }

  get remaining(): number {
    return Math.max(0, this.#size - this.position);
  }

  read(buf: Buffer, at: number, len: number): number {
    const want = Math.min(len, this.#size - this.position);
    if (want <= 0) return 0;
    const n = readSync(this.#fd, buf, at, want, this.position);
    this.position += n;
    this.#hash?.update(buf.subarray(at, at + n));
    return n;
  }

  /** The file grew (it is still being written): its new bytes are this file's too. */
  extend(size: number): void {
    this.#size = size;
  }

  close(): void {}
}

/**
 * A `.gz` file, decompressed as a stream; positions count decompressed bytes. Read from the
 * descriptor the caller opened (and checked: spool-open.ts), never by its name again: the
 * name may be a link re-pointed since. The caller closes the descriptor after `close()`.
 */
export class GunzipSource implements ByteSource {
  readonly #chunks: AsyncIterator<Buffer>;
  readonly #stream: NodeJS.ReadableStream & { destroy(): void };
  readonly #file: ReadStream;
  #pending: Buffer = Buffer.alloc(0);
  #ended = false;
  position = 0;
  readonly remaining = Infinity;

  constructor(path: string, fd: number) {
    const gunzip = createGunzip();
    // Its own `close` leaves the descriptor open: a stream's destroy closes it whatever autoClose says.
    const file = createReadStream(path, { fd, start: 0, highWaterMark: 1 << 20, fs: { read, close: (_fd: number, cb: (err: null) => void) => cb(null) } });
    file.on('error', (err) => gunzip.destroy(err));
    this.#file = file;
    this.#stream = file.pipe(gunzip);
    this.#chunks = gunzip[Symbol.asyncIterator]();
  }

  async read(buf: Buffer, at: number, len: number): Promise<number> {
    let n = 0;
    while (n < len) {
      if (this.#pending.length === 0) {
        if (this.#ended) break;
        const next = await this.#chunks.next(); // a corrupt stream rejects here
        if (next.done) {
          this.#ended = true;
          break;
        }
        this.#pending = next.value;
        // (Not handed over at a gunzip chunk's end: each 16 KB would take a 1 MB chunk of the pool
        // into the channel, and a gzip bomb held ~0.4 GB of mostly empty chunks.)
      }
      const take = Math.min(len - n, this.#pending.length);
      this.#pending.copy(buf, at + n, 0, take);
      this.#pending = this.#pending.subarray(take);
      n += take;
    }
    this.position += n;
    return n;
  }

  /** Reads and drops `count` bytes (resuming inside a compressed file); returns the line feeds among them. */
  async discard(count: number): Promise<number> {
    const scratch = Buffer.allocUnsafe(1 << 20);
    let lines = 0;
    while (this.position < count) {
      const n = await this.read(scratch, 0, Math.min(scratch.length, count - this.position));
      if (n === 0) break;
      for (let i = scratch.indexOf(10, 0); i !== -1 && i < n; i = scratch.indexOf(10, i + 1)) lines++;
    }
    return lines;
  }

  /** Waits for a read in flight: the descriptor must not be closed (and its number reused) under it. */
  async close(): Promise<void> {
    this.#stream.destroy();
    if (this.#file.closed) return;
    const closed = new Promise<void>((resolve) => this.#file.once('close', () => resolve()));
    this.#file.destroy();
    await closed;
  }
}
