/**
 * File chunks the source reads into, reused once every batch cut from them is delivered.
 *
 * Why: each MB read used to be a fresh 1 MiB buffer that lived until its last batch was
 * answered OK downstream, then waited for a GC. At a million lines a second that is
 * ~170 MB/s of garbage; V8 collects external memory late, so the main thread carried
 * 30-40 MB of dead chunks at its peak. A reused chunk is freed by counting: one reference
 * for the reader (until the carried partial line is copied out) and one per batch.
 */
export class ChunkPool {
  readonly chunkBytes: number;
  readonly #maxFree: number;
  readonly #free: Chunk[] = [];

  constructor(chunkBytes: number, maxFree = 8) {
    this.chunkBytes = chunkBytes;
    this.#maxFree = maxFree;
  }

  /** A chunk of `bytes` (pooled when it is the full chunk size), held once by the caller. */
  take(bytes: number): Chunk {
    const pooled = bytes === this.chunkBytes ? this.#free.pop() : undefined;
    const chunk = pooled ?? new Chunk(Buffer.allocUnsafe(bytes), bytes === this.chunkBytes ? this : undefined);
    chunk.refs = 1;
    return chunk;
  }

  /** @internal */
  give(chunk: Chunk): void {
    if (this.#free.length < this.#maxFree) this.#free.push(chunk);
  }
}

export class Chunk {
  readonly buf: Buffer;
  refs = 0;
  readonly #pool: ChunkPool | undefined;
  /** Drops one reference; the last one hands the chunk back. One closure per chunk, shared by its batches. */
  readonly release = (): void => {
    if (--this.refs === 0) this.#pool?.give(this);
  };

  constructor(buf: Buffer, pool: ChunkPool | undefined) {
    this.buf = buf;
    this.#pool = pool;
  }

  /** One more holder (a batch whose bytes are this chunk's). */
  retain(): void {
    this.refs++;
  }
}
