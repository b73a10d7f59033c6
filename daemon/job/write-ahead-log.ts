import { closeSync, fdatasync, fdatasyncSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { LogflowError } from '../errors.js';
import { syncDirectory } from './durable-file.js';

const RECORD_HEADER = 8; // [length u32][crc32 u32]
/**
 * Segment formats: 1 (up to 2f37a76) starts with its first record; 2 starts with
 * `LFWAL\0` and the format as u16. A format-1 record length never reads as the magic
 * (`LFWA` is 1.1 GB, over the 1 GiB frame limit), so both are told apart by their bytes.
 */
export const WAL_FORMAT = 2;
const MAGIC = Buffer.from('LFWAL\0', 'latin1');
const SEGMENT_HEADER = MAGIC.length + 2;

/**
 * The receiver's write-ahead log for events from other processes: a call is appended and
 * synced before the sender hears OK, so an answered event survives a crash. Syncs are
 * grouped: every call waiting while a sync runs shares the next one. Each checkpoint
 * starts a new segment; segments older than the checkpoint are deleted.
 */
export class WriteAheadLog {
  readonly #dir: string;
  #seq: number;
  #fd: number;
  #dirty = false;
  #syncing: Promise<void> | undefined;
  #waiters: { resolve(): void; reject(err: Error): void }[] = [];

  constructor(dir: string, seq: number) {
    this.#dir = dir;
    mkdirSync(dir, { recursive: true });
    this.#seq = seq;
    this.#fd = openSegment(this.#segment(seq));
    syncDirectory(dir);
  }

  get seq(): number {
    return this.#seq;
  }

  /** Appends one record (not yet durable: await `sync()`). */
  append(payload: Buffer): void {
    const header = Buffer.allocUnsafe(RECORD_HEADER);
    header.writeUInt32LE(payload.length, 0);
    header.writeUInt32LE(crc32(payload), 4);
    writeSync(this.#fd, header);
    writeSync(this.#fd, payload);
    this.#dirty = true;
  }

  /** Resolves once everything appended so far is on disk. */
  sync(): Promise<void> {
    if (!this.#dirty && !this.#syncing) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      if (!this.#syncing) this.#startSync();
    });
  }

  #startSync(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    this.#dirty = false;
    this.#syncing = new Promise<void>((done) => {
      fdatasync(this.#fd, (err) => {
        // (a rotation in between already made these records durable and released others)
        for (const w of waiters) (err ? w.reject(err) : w.resolve());
        this.#syncing = undefined;
        if (this.#waiters.length > 0) this.#startSync();
        done();
      });
    });
  }

  /**
   * Starts a new segment (called while the state that holds every record so far is being
   * checkpointed) and returns its number: the checkpoint's `walSeq`.
   */
  rotate(): number {
    const old = this.#fd;
    fdatasyncSync(old);
    // Everything appended so far is on disk now: release its waiters.
    const waiters = this.#waiters;
    this.#waiters = [];
    this.#dirty = false;
    for (const w of waiters) w.resolve();
    this.#seq++;
    this.#fd = openSegment(this.#segment(this.#seq));
    // A sync still running on the old segment must finish before its descriptor closes.
    if (this.#syncing) void this.#syncing.then(() => closeSync(old));
    else closeSync(old);
    return this.#seq;
  }

  /** Deletes the segments before `seq` (their records are in a committed checkpoint). */
  deleteBefore(seq: number): void {
    for (const s of segments(this.#dir)) if (s < seq) unlinkSync(this.#segment(s));
  }

  close(): void {
    try {
      fdatasyncSync(this.#fd);
    } finally {
      closeSync(this.#fd);
    }
  }

  #segment(seq: number): string {
    return segmentPath(this.#dir, seq);
  }

  /**
   * Every intact record of the segments from `seq` on, oldest first. A torn last record
   * (a crash mid-append, never answered OK) ends its segment.
   */
  static *replay(dir: string, seq: number): Generator<Buffer> {
    for (const s of segments(dir)) {
      if (s < seq) continue;
      const data = readFileSync(segmentPath(dir, s));
      let pos = segmentStart(data, segmentPath(dir, s));
      while (pos + RECORD_HEADER <= data.length) {
        const len = data.readUInt32LE(pos);
        const end = pos + RECORD_HEADER + len;
        if (end > data.length) break;
        const payload = data.subarray(pos + RECORD_HEADER, end);
        if (crc32(payload) !== data.readUInt32LE(pos + 4)) break;
        yield payload;
        pos = end;
      }
    }
  }

  /** The highest segment number present, or -1. */
  static lastSegment(dir: string): number {
    return segments(dir).at(-1) ?? -1;
  }
}

/** Opens a segment for appending; a new one gets the header of the current format. */
function openSegment(file: string): number {
  const fd = openSync(file, 'a');
  if (fstatSync(fd).size === 0) {
    const header = Buffer.alloc(SEGMENT_HEADER);
    MAGIC.copy(header);
    header.writeUInt16LE(WAL_FORMAT, MAGIC.length);
    writeSync(fd, header);
  }
  return fd;
}

/** Where a segment's records start, by its format; refuses a format newer than this code's. */
function segmentStart(data: Buffer, file: string): number {
  if (data.length < SEGMENT_HEADER || data.compare(MAGIC, 0, MAGIC.length, 0, MAGIC.length) !== 0) return 0; // format 1
  const format = data.readUInt16LE(MAGIC.length);
  if (format > WAL_FORMAT) {
    throw new LogflowError(
      'LF_CHECKPOINT_INCOMPATIBLE',
      `the write-ahead-log segment ${file} has format ${format}, written by a newer logflow; this one reads formats 1 to ${WAL_FORMAT}. ` +
        'Run the logflow that wrote it, or start once with --reset-checkpoint (events it holds that were answered OK are lost).',
    );
  }
  return SEGMENT_HEADER;
}

function segmentPath(dir: string, seq: number): string {
  return path.join(dir, `${String(seq).padStart(10, '0')}.wal`);
}

function segments(dir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => /^\d{10}\.wal$/.test(n))
    .map((n) => Number(n.slice(0, 10)))
    .sort((a, b) => a - b);
}
