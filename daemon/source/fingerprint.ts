import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

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

export async function headFingerprint(fh: FileHandle, size: number): Promise<Fingerprint> {
  const want = Math.min(size, HEAD_BYTES);
  const buf = Buffer.allocUnsafe(want);
  let got = 0;
  while (got < want) {
    const { bytesRead } = await fh.read(buf, got, want - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  const head = createHash('sha256').update(buf.subarray(0, got)).digest('hex');
  return { size, head, full: size <= HEAD_BYTES ? head : undefined };
}

/** The hash of the file's first `size` bytes, read in 1 MB steps off the event loop. */
export async function fullHash(fh: FileHandle, size: number): Promise<string> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(Math.min(READ_BYTES, Math.max(1, size)));
  for (let at = 0; at < size; ) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - at), at);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    at += bytesRead;
  }
  return hash.digest('hex');
}
