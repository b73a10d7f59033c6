import { readdirSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { LogflowError } from '../errors.js';

/**
 * The CRC-checked record log under the receiver's write-ahead log and the file channel:
 * segment files of records `[payload length u32][crc32 of payload u32][payload]`. Each log
 * keeps the byte order and file names it has always written (the WAL little-endian, the
 * file channel big-endian), so files from earlier versions still load.
 *
 * A record whose length runs past the end of its file, or whose CRC does not match, is
 * torn (a crash mid-append, never acknowledged): reading stops there.
 *
 * A log may give its segments a header (`magic` then its format as u16, in the log's byte
 * order): a new segment starts with it, and a segment without it is read as format 1 (the
 * records from byte 0), so segments written before the header existed still load.
 */
export const RECORD_HEADER_BYTES = 8;

export type ByteOrder = 'LE' | 'BE';

export interface RecordLogFormat {
  readonly byteOrder: ByteOrder;
  /** Segment file names: `<prefix><id, zero-padded to digits><suffix>`. */
  readonly prefix: string;
  readonly digits: number;
  readonly suffix: string;
  /** The segment header, when the log has one (see above). */
  readonly header?: SegmentHeader;
}

export interface SegmentHeader {
  /** Bytes no format-1 segment starts with (its first record's length can never read as them). */
  readonly magic: Buffer;
  /** The format this code writes; it reads 1 up to this one. */
  readonly format: number;
  /** What the segments are, and what to do about one from a newer version (for the error). */
  readonly what: string;
  readonly newerHint: string;
}

export class RecordLog {
  readonly dir: string;
  readonly #le: boolean;
  readonly #format: RecordLogFormat;
  readonly #name: RegExp;

  constructor(dir: string, format: RecordLogFormat) {
    this.dir = dir;
    this.#format = format;
    this.#le = format.byteOrder === 'LE';
    this.#name = new RegExp(`^${escape(format.prefix)}(\\d{${format.digits},})${escape(format.suffix)}$`);
  }

  segmentPath(id: number): string {
    const f = this.#format;
    return path.join(this.dir, `${f.prefix}${String(id).padStart(f.digits, '0')}${f.suffix}`);
  }

  /** The segment ids present, ascending (none when the directory does not exist). */
  segments(): number[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return this.#ids(names);
  }

  async segmentsAsync(): Promise<number[]> {
    return this.#ids(await fsp.readdir(this.dir));
  }

  /** The bytes a new segment starts with (empty when the log has no segment header). */
  segmentHeader(): Buffer {
    const h = this.#format.header;
    if (!h) return Buffer.alloc(0);
    const out = Buffer.alloc(h.magic.length + 2);
    h.magic.copy(out);
    if (this.#le) out.writeUInt16LE(h.format, h.magic.length);
    else out.writeUInt16BE(h.format, h.magic.length);
    return out;
  }

  /**
   * Where a segment's records start, by its format: after the header, or at 0 for a segment
   * without one (format 1). Refuses a format newer than this code's.
   */
  recordsStart(data: Buffer, file: string): number {
    const h = this.#format.header;
    if (!h) return 0;
    const size = h.magic.length + 2;
    if (data.length < size || data.compare(h.magic, 0, h.magic.length, 0, h.magic.length) !== 0) return 0;
    const format = this.#le ? data.readUInt16LE(h.magic.length) : data.readUInt16BE(h.magic.length);
    if (format > h.format) {
      throw new LogflowError(
        'LF_CHECKPOINT_INCOMPATIBLE',
        `the ${h.what} ${file} has format ${format}, written by a newer logflow; this one reads formats 1 to ${h.format}. ${h.newerHint}`,
      );
    }
    return size;
  }

  /** The header that goes before `payload`. */
  header(payload: Buffer): Buffer {
    const h = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
    this.#writeHeader(h, payload);
    return h;
  }

  /** Fills in the header of a record built with RECORD_HEADER_BYTES free at its start. */
  seal(record: Buffer): void {
    this.#writeHeader(record, record.subarray(RECORD_HEADER_BYTES));
  }

  /** Every intact record of `data` (the bytes of the segment `file`), oldest first. */
  *records(data: Buffer, file: string): Generator<Buffer> {
    let pos = this.recordsStart(data, file);
    for (;;) {
      const payload = this.#recordAt(data, pos, data.length);
      if (!payload) return;
      yield payload;
      pos += RECORD_HEADER_BYTES + payload.length;
    }
  }

  /**
   * Reads the record at `pos` of an open segment of `fileSize` bytes, without reading the
   * whole file; undefined at the end or at a torn record.
   */
  async readAt(fh: fsp.FileHandle, pos: number, fileSize: number, head: Buffer): Promise<Buffer | undefined> {
    if (pos + RECORD_HEADER_BYTES > fileSize) return undefined;
    await fh.read(head, 0, RECORD_HEADER_BYTES, pos);
    const len = this.#le ? head.readUInt32LE(0) : head.readUInt32BE(0);
    if (pos + RECORD_HEADER_BYTES + len > fileSize) return undefined;
    const payload = Buffer.allocUnsafe(len);
    await fh.read(payload, 0, len, pos + RECORD_HEADER_BYTES);
    return crc32(payload) === (this.#le ? head.readUInt32LE(4) : head.readUInt32BE(4)) ? payload : undefined;
  }

  #recordAt(data: Buffer, pos: number, end: number): Buffer | undefined {
    if (pos + RECORD_HEADER_BYTES > end) return undefined;
    const len = this.#le ? data.readUInt32LE(pos) : data.readUInt32BE(pos);
    const stop = pos + RECORD_HEADER_BYTES + len;
    if (stop > end) return undefined;
    const payload = data.subarray(pos + RECORD_HEADER_BYTES, stop);
    const crc = this.#le ? data.readUInt32LE(pos + 4) : data.readUInt32BE(pos + 4);
    return crc32(payload) === crc ? payload : undefined;
  }

  #writeHeader(out: Buffer, payload: Buffer): void {
    if (this.#le) {
      out.writeUInt32LE(payload.length, 0);
      out.writeUInt32LE(crc32(payload), 4);
    } else {
      out.writeUInt32BE(payload.length, 0);
      out.writeUInt32BE(crc32(payload), 4);
    }
  }

  #ids(names: string[]): number[] {
    const ids: number[] = [];
    for (const n of names) {
      const m = this.#name.exec(n);
      if (m) ids.push(Number(m[1]));
    }
    return ids.sort((a, b) => a - b);
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
