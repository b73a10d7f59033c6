import { closeSync, fdatasync, fdatasyncSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { RecordLog, syncDirectory, type RecordLogFormat } from '../durable/index.js';

/** `0000000001.wal`, records little-endian (the format since the first version). */
const WAL_FORMAT: RecordLogFormat = { byteOrder: 'LE', prefix: '', digits: 10, suffix: '.wal' };

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
    this.#log = new RecordLog(dir, WAL_FORMAT);
    mkdirSync(dir, { recursive: true });
    this.#seq = seq;
    this.#fd = openSync(this.#segment(seq), 'a');
    syncDirectory(dir);
  }

  get seq(): number {
    return this.#seq;
  }

  /** Appends one record (not yet durable: await `sync()`). */
  append(payload: Buffer): void {
    writeSync(this.#fd, this.#log.header(payload));
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
    this.#fd = openSync(this.#segment(this.#seq), 'a');
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
   * Every intact record of the segments from `seq` on, oldest first. A torn last record
   * (a crash mid-append, never answered OK) ends its segment.
   */
  static *replay(dir: string, seq: number): Generator<Buffer> {
    const log = new RecordLog(dir, WAL_FORMAT);
    for (const s of log.segments()) {
      if (s >= seq) yield* log.records(readFileSync(log.segmentPath(s)));
    }
  }

  /** The highest segment number present, or -1. */
  static lastSegment(dir: string): number {
    return new RecordLog(dir, WAL_FORMAT).segments().at(-1) ?? -1;
  }
}
