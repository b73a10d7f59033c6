import { createHash, type Hash } from 'node:crypto';
import { read, readSync } from 'node:fs';
import { promisify } from 'node:util';

const readAt = promisify(read);

/** Bytes of a file's start that its quick fingerprint covers. */
export const HEAD_BYTES = 64 * 1024;
const READ_BYTES = 1 << 20;

/**
 * What identifies a file's content (`fileIdentity = content`): its size and a hash of its
 * first 64 KB find the candidates cheaply; a hash of all of it decides, so two files that
 * share a 64 KB header (same log preamble, same first requests) are not taken for one.
 * For a file of at most 64 KB the two hashes are the same.
 */
export interface Fingerprint {
  readonly size: number;
  readonly head: string;
  /** The whole file's hash; computed only when needed (a candidate matched, or to record it). */
  full: string | undefined;
}

/**
 * Size and first-64-KB hash. The read is synchronous, as the source's reads are: 64 KB of a
 * file just written is in the page cache, and 10,000 small files spent most of their time
 * waiting for the thread pool when this went through it.
 */
export function headFingerprint(fd: number, size: number): Fingerprint {
  const head = hashHead(fd, Math.min(size, HEAD_BYTES));
  return { size, head, full: size <= HEAD_BYTES ? head : undefined };
}

/** The hash of a file's first `bytes` bytes. */
export function hashHead(fd: number, bytes: number): string {
  const buf = Buffer.allocUnsafe(bytes);
  let got = 0;
  while (got < bytes) {
    const n = readSync(fd, buf, got, bytes - got, got);
    if (n === 0) break;
    got += n;
  }
  return createHash('sha256').update(buf.subarray(0, got)).digest('hex');
}

/** The hash of the file's first `size` bytes, read in 1 MB steps off the event loop. */
export async function fullHash(fd: number, size: number): Promise<string> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.min(READ_BYTES, Math.max(1, size)));
  for (let at = 0; at < size; ) {
    const { bytesRead } = await readAt(fd, buf, 0, Math.min(buf.length, size - at), at);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    at += bytesRead;
  }
  return hash.digest('hex');
}

/**
 * The whole file's hash, fed with the bytes as the source reads them from offset 0. Hashing
 * in a second read after the last line cost the main thread ~140 ms per 172 MB file and held
 * the sink meanwhile (its 1 MB reads queue in the thread pool behind the job's fsyncs); with
 * `fileIdentity = content` the end-to-end rate was ~30% below `name` (bench, A/B).
 */
export class RunningHash {
  readonly #hash: Hash = createHash('sha256');
  #bytes = 0;

  update(bytes: Buffer): void {
    this.#hash.update(bytes);
    this.#bytes += bytes.length;
  }

  /** The hash, if every byte up to `size` went through `update`; else undefined. */
  digestOf(size: number): string | undefined {
    return this.#bytes === size ? this.#hash.digest('hex') : undefined;
  }
}
