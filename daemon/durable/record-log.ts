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

/**
 * How a segment ends after its last intact record:
 * - `clean`: at the end of the file;
 * - `torn`: the bytes left are the start of one record, never finished (a crash in the middle
 *   of an append; or the file was cut: the two look the same);
 * - `damaged`: bytes that are not a record with intact records after them, or a start that is
 *   neither the header nor a record (overwritten, or a bad header).
 */
export type SegmentEnd =
  | { readonly kind: 'clean' }
  | { readonly kind: 'torn'; readonly at: number; readonly bytes: number }
  | { readonly kind: 'damaged'; readonly at: number; readonly what: string };

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

  /**
   * Every intact record of `data` (the bytes of the segment `file`), oldest first, and how
   * the segment ends (see SegmentEnd). Records are never empty, so a run of zeros (a file
   * extended but not written before a power loss) is not taken for records.
   */
  scan(data: Buffer, file: string): { records: Buffer[]; end: SegmentEnd } {
    const records: Buffer[] = [];
    const h = this.#format.header;
    let pos = this.recordsStart(data, file);
    if (pos === 0 && h && data.length > 0) {
      // No header: a torn one (a crash as the segment was made), a format-1 segment (it
      // starts with a whole record), or damage.
      const headerBytes = this.segmentHeader();
      if (data.length < headerBytes.length && headerBytes.subarray(0, data.length).equals(data)) {
        return { records, end: { kind: 'torn', at: 0, bytes: data.length } };
      }
      if (!this.#recordAt(data, 0, data.length)) {
        return { records, end: { kind: 'damaged', at: 0, what: `it starts with neither the ${h.what} header nor a whole record` } };
      }
    }
    for (;;) {
      const payload = this.#recordAt(data, pos, data.length);
      if (!payload) break;
      records.push(payload);
      pos += RECORD_HEADER_BYTES + payload.length;
    }
    if (pos === data.length) return { records, end: { kind: 'clean' } };
    const next = this.#nextRecordAfter(data, pos);
    if (next === undefined) return { records, end: { kind: 'torn', at: pos, bytes: data.length - pos } };
    return { records, end: { kind: 'damaged', at: pos, what: `bytes ${pos} to ${next} are not a record, and records follow them` } };
  }

  /** The offset of the first intact record after `pos`, if any (a search, on the damaged path only). */
  #nextRecordAfter(data: Buffer, pos: number): number | undefined {
    for (let at = pos + 1; at + RECORD_HEADER_BYTES < data.length; at++) {
      if (this.#recordAt(data, at, data.length)) return at;
    }
    return undefined;
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
    if (len === 0 || stop > end) return undefined;
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
