import { closeSync, fdatasync, fdatasyncSync, fstatSync, mkdirSync, openSync, readFileSync, truncateSync, unlinkSync, writeSync, writevSync } from 'node:fs';
import { RecordLog, syncDirectory, type RecordLogFormat } from '../durable/index.js';
import { checkpointCorrupt } from './checkpoint-files.js';

/**
 * Segment formats: 1 (the first, with checkpoint format 1) starts with its first record; 2 starts with
 * `LFWAL\0` and the format as u16. A format-1 record length never reads as the magic
 * (`LFWA` is 1.1 GB, over the 1 GiB frame limit), so both are told apart by their bytes.
 */
export const WAL_FORMAT = 2;

/** `0000000001.wal`, records little-endian (the byte order since the first version). */
const WAL_LOG: RecordLogFormat = {
  byteOrder: 'LE',
  prefix: '',
  digits: 10,
  suffix: '.wal',
  header: {
    magic: Buffer.from('LFWAL\0', 'latin1'),
    format: WAL_FORMAT,
    what: 'write-ahead-log segment',
    newerHint: 'Run the logflow that wrote it, or start once with --reset-checkpoint (events it holds that were answered OK are lost).',
  },
};

/**
 * The receiver's write-ahead log for events from other processes: a call is appended and
 * synced before the sender hears OK, so an answered event survives a crash. Syncs are
 * grouped: every call waiting while a sync runs shares the next one. Each checkpoint
 * starts a new segment; segments older than the checkpoint are deleted.
 */
export class WriteAheadLog {
  readonly #log: RecordLog;
  #seq: number;
  #fd: number;
  #dirty = false;
  #syncing: Promise<void> | undefined;
  #waiters: { resolve(): void; reject(err: Error): void }[] = [];

  constructor(dir: string, seq: number) {
    this.#log = new RecordLog(dir, WAL_LOG);
    mkdirSync(dir, { recursive: true });
    this.#seq = seq;
    this.#fd = openSegment(this.#log, this.#segment(seq));
    syncDirectory(dir);
  }

  get seq(): number {
    return this.#seq;
  }

  /** Appends one record (not yet durable: await `sync()`). */
  append(payload: Buffer): void {
    // One system call: a process killed in the middle leaves a record whole or not there.
    writevSync(this.#fd, [this.#log.header(payload), payload]);
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
    this.#fd = openSegment(this.#log, this.#segment(this.#seq));
    // A sync still running on the old segment must finish before its descriptor closes.
    if (this.#syncing) void this.#syncing.then(() => closeSync(old));
    else closeSync(old);
    return this.#seq;
  }

  /** Deletes the segments before `seq` (their records are in a committed checkpoint). */
  deleteBefore(seq: number): void {
    for (const s of this.#log.segments()) if (s < seq) unlinkSync(this.#segment(s));
  }

  close(): void {
    try {
      fdatasyncSync(this.#fd);
    } finally {
      closeSync(this.#fd);
    }
  }

  #segment(seq: number): string {
    return this.#log.segmentPath(seq);
  }

  /**
   * Every intact record of the segments from `seq` on, oldest first (a segment's once all
   * of it is read). `named`: a checkpoint names segment `seq`, so it must be there (it is made
   * before the checkpoint that names it, and only older ones are deleted); the segments must
   * follow one another. A torn last record of the last segment (a crash in the middle of an
   * append, never answered OK) is cut off and reported (`onTorn`). Any other damage stops the
   * replay with LF_CHECKPOINT_CORRUPT naming the file: reading past it, or not at all, would
   * silently lose events that were answered OK. (The counts of segments replayed before it
   * are lost with the process, which stops: no checkpoint is written.)
   */
  static *replay(dir: string, seq: number, named = false, onTorn?: (torn: TornTail) => void): Generator<Buffer> {
    const log = new RecordLog(dir, WAL_LOG);
    const segments = log.segments().filter((s) => s >= seq);
    if (named && segments[0] !== seq) throw walCorrupt(`${log.segmentPath(seq)}, which the checkpoint names, is missing`);
    for (const [i, s] of segments.entries()) {
      const file = log.segmentPath(s);
      if (i > 0 && s !== segments[i - 1]! + 1) throw walCorrupt(`${log.segmentPath(segments[i - 1]! + 1)} is missing (the log goes on at ${file})`);
      const { records: intact, end } = log.scan(readFileSync(file), file);
      if (end.kind === 'damaged') throw walCorrupt(`${file} is damaged at byte ${end.at}: ${end.what}`);
      if (end.kind === 'torn' && i < segments.length - 1) throw walCorrupt(`${file} is cut short at byte ${end.at}, and it is not the last segment`);
      if (end.kind === 'torn') onTorn?.({ file, at: end.at, bytes: end.bytes });
      yield* intact;
    }
  }

  /** Cuts a torn last record off its segment, before appends go on there. */
  static cutOff(torn: TornTail): void {
    truncateSync(torn.file, torn.at);
  }

  /** The segment numbers present in `dir`, ascending. */
  static segments(dir: string): number[] {
    return new RecordLog(dir, WAL_LOG).segments();
  }

  static segmentPath(dir: string, seq: number): string {
    return new RecordLog(dir, WAL_LOG).segmentPath(seq);
  }

  /** The highest segment number present, or -1. */
  static lastSegment(dir: string): number {
    return new RecordLog(dir, WAL_LOG).segments().at(-1) ?? -1;
  }
}

/** A last record cut short, at byte `at` of `file`: `bytes` were dropped. */
export interface TornTail {
  readonly file: string;
  readonly at: number;
  readonly bytes: number;
}

function walCorrupt(what: string): Error {
  return checkpointCorrupt(
    `the write-ahead log ${what}`,
    ', and the events from other senders that the log held, which were answered OK, are lost; or put the file back as it was',
  );
}

/** Opens a segment for appending; a new one gets the header of the current format. */
function openSegment(log: RecordLog, file: string): number {
  const fd = openSync(file, 'a');
  if (fstatSync(fd).size === 0) writeSync(fd, log.segmentHeader());
  return fd;
}
