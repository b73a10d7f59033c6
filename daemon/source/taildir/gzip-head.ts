import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { constants as zc, gunzipSync } from 'node:zlib';
import { FINGERPRINT_MAX_BYTES, fingerprintOf } from '../file-identity.js';

/**
 * Compressed bytes inflated to find the first line of a `.gz` file: a little first (a first
 * line is in the first kilobyte of a log's gzip), more only if that was not enough; the
 * output is capped, so a file that inflates enormously costs no more than that.
 */
const HEAD_COMPRESSED_STEPS = [1024, 16 * 1024, 64 * 1024];
const MAX_INFLATED = 4 << 20;

/** A `.gz` file as the source first looks at it: the fingerprint of its decompressed first line, and its trailer. */
export interface GzipHead {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  /** Of the decompressed first line; undefined when it is not complete (the file is still being written). */
  readonly fingerprint: string | undefined;
  /** The trailer's ISIZE: the decompressed size modulo 2^32 (of the last member). */
  readonly isize: number | undefined;
}

/**
 * Looks at a `.gz` file without decompressing it all: the first 64 KB, inflated as far as
 * they go (a file still being written by gzip inflates as far as it was written), and the
 * last 4 bytes. Vector fingerprints compressed files by their decompressed first line too:
 * a rotated log compressed later keeps the fingerprint it had, so it is known for what it is.
 */
export function readGzipHead(file: string): GzipHead {
  const fd = openSync(file, 'r');
  try {
    const st = fstatSync(fd);
    let fingerprint: string | undefined;
    for (const step of HEAD_COMPRESSED_STEPS) {
      const head = Buffer.allocUnsafe(Math.min(st.size, step));
      const got = readFull(fd, head, 0);
      try {
        const plain = gunzipSync(head.subarray(0, got), { finishFlush: zc.Z_SYNC_FLUSH, maxOutputLength: MAX_INFLATED });
        fingerprint = fingerprintOf(plain.subarray(0, FINGERPRINT_MAX_BYTES));
      } catch {
        // Not gzip, too little of it yet, or it inflates beyond the cap: no first line from these bytes.
      }
      if (fingerprint !== undefined || got < step) break;
    }
    let isize: number | undefined;
    if (st.size >= 18) {
      const tail = Buffer.allocUnsafe(4);
      if (readFull(fd, tail, st.size - 4) === 4) isize = tail.readUInt32LE(0);
    }
    return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, fingerprint, isize };
  } finally {
    closeSync(fd);
  }
}

function readFull(fd: number, buf: Buffer, at: number): number {
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, at + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}
