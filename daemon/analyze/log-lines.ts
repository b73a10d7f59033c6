import { closeSync, fstatSync, openSync } from 'node:fs';
import { GunzipSource, PlainSource, type ByteSource } from '../source/byte-source.js';
import { LineScanner } from '../source/line-scanner.js';
import { LogflowError } from '../errors.js';

/** The source's default `maxLineLength`: longer lines are cut there, as the daemon cuts them. */
export const MAX_LINE_LENGTH = 2048;
const CHUNK_BYTES = 1 << 20;

/**
 * Receives a chunk's complete lines: `buf[starts[i], ends[i])` for i < count (no line
 * feeds). Returns false to stop reading. The buffer is reused for the next chunk.
 */
export type LinesHandler = (buf: Buffer, starts: Int32Array, ends: Int32Array, count: number) => boolean;

/** A file by its name, or one opened already (its descriptor stays the caller's to close). */
export type LogFile = string | { readonly name: string; readonly fd: number };

export interface LogFileInfo {
  /** Bytes on disk (compressed, for `.gz`). */
  readonly size: number;
  readonly gzip: boolean;
}

/**
 * Reads a log file (plain, or `.gz` decompressed) in 1 MiB chunks with the spool source's
 * byte sources and line scanner: the same lines the daemon would see. `onRead` gets the
 * bytes of the file read so far (decompressed bytes for gzip) after each chunk.
 */
export async function readLogLines(file: LogFile, onLines: LinesHandler, onRead?: (bytes: number) => void): Promise<LogFileInfo> {
  const name = typeof file === 'string' ? file : file.name;
  const fd = typeof file === 'string' ? openSync(file, 'r') : file.fd;
  const release = () => {
    if (typeof file === 'string') closeSync(fd);
  };
  let source: ByteSource;
  let info: LogFileInfo;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new LogflowError('LF_NOT_A_FILE', `${name} is not a regular file`);
    const gzip = name.endsWith('.gz');
    info = { size: st.size, gzip };
    source = gzip ? new GunzipSource(name, fd) : new PlainSource(fd, st.size, 0);
  } catch (err) {
    release();
    throw err;
  }
  const scanner = new LineScanner(MAX_LINE_LENGTH, 16_384);
  let buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let spare = Buffer.allocUnsafe(CHUNK_BYTES);
  let carried = 0;
  try {
    for (;;) {
      const n = await source.read(buf, carried, buf.length - carried);
      const filled = carried + n;
      scanner.count = 0;
      if (n === 0) scanner.finish(buf, 0, filled);
      else scanner.scan(buf, 0, filled);
      onRead?.(source.position);
      if (scanner.count > 0 && !onLines(buf, scanner.starts, scanner.ends, scanner.count)) return info;
      if (n === 0) return info;
      // Carry the unfinished last line to the front of the other buffer.
      carried = buf.copy(spare, 0, scanner.rest, scanner.carryEnd);
      [buf, spare] = [spare, buf];
    }
  } finally {
    await source.close();
    release();
  }
}
