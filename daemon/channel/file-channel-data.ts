import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { LogflowError } from '../errors.js';
import { RECORD_HEADER_BYTES, RecordLog, writeFileAtomicAsync, syncDirectoryAsync, type RecordLogFormat } from '../durable/index.js';
import type { Logger } from '../log.js';
import type { EventBatch } from './event-batch.js';
import { decodeRecord } from './file-channel-record.js';
import { fileChannelFileDeleted, fileChannelTornRecord } from '../telemetry/index.js';

const CHECKPOINT = 'checkpoint.json';
/** `log-00000001`, records big-endian (the format since the first version). */
const DATA_FORMAT: RecordLogFormat = { byteOrder: 'BE', prefix: 'log-', digits: 8, suffix: '' };

interface Segment {
  readonly file: string;
  readonly id: number;
  /** Sequence number of the last batch written to it (-1: none yet). */
  lastSeq: number;
  size: number;
}

/** The file channel's `checkpoint.json`: what the sink has committed, and the source positions. */
export interface FileChannelCheckpoint {
  readonly version: 1;
  /** Every batch below this sequence number is committed. */
  readonly doneBelow: number;
  /** Committed batches above `doneBelow` (a sink commits out of order after a failure). */
  readonly doneAbove: number[];
  /** Source positions whose batches may be in segments already deleted. */
  readonly positions: Record<string, number>;
  /** `positions` include every batch below this sequence number (later ones are replayed). */
  readonly positionsBelow: number;
}

/**
 * The file channel on disk: data files (`dataDir/log-NNNNNNNN`, CRC-checked records of put
 * transactions, see file-channel-record.ts) and the checkpoint (`checkpointDir/checkpoint.json`).
 * Appends are one write and one fdatasync; a data file is rolled past `maxFileSize` and
 * deleted once every batch in it is committed. Knows sequence numbers, not batches' meaning.
 */
export class FileChannelData {
  readonly #dataDir: string;
  readonly #checkpointFile: string;
  readonly #maxFileSize: number;
  readonly #log: Logger;
  readonly #data: RecordLog;
  readonly #segments: Segment[] = [];
  #fd: fsp.FileHandle | undefined;
  #syncs = 0;

  constructor(config: { readonly dataDir: string; readonly checkpointDir: string; readonly maxFileSize: number }, log: Logger) {
    this.#dataDir = config.dataDir;
    this.#checkpointFile = path.join(config.checkpointDir, CHECKPOINT);
    this.#maxFileSize = config.maxFileSize;
    this.#log = log;
    this.#data = new RecordLog(config.dataDir, DATA_FORMAT);
  }

  /** fdatasync calls so far. */
  get syncs(): number {
    return this.#syncs;
  }

  /** Data files now. */
  get segmentCount(): number {
    return this.#segments.length;
  }

  /** Whether appending is possible (opened, not closed). */
  get writable(): boolean {
    return this.#fd !== undefined;
  }

  /**
   * Reads every data file back, record by record (a large file is never in memory at
   * once), in order; a torn or corrupt record at the end of a file is cut off.
   * `state.nextSeq`: in, the first sequence number not in the checkpoint; out (once the
   * loop ends), the one after the last batch read.
   */
  async *replay(state: { nextSeq: number }): AsyncGenerator<{ seq: number; batches: EventBatch[] }> {
    const ids = await this.#data.segmentsAsync();
    for (const id of ids) {
      const file = this.#data.segmentPath(id);
      const fh = await fsp.open(file, 'r');
      const fileSize = (await fh.stat()).size;
      const head = Buffer.alloc(RECORD_HEADER_BYTES);
      let pos = 0;
      let lastSeq = state.nextSeq - 1;
      try {
        for (let payload; (payload = await this.#data.readAt(fh, pos, fileSize, head)); ) {
          const record = decodeRecord(payload);
          yield record;
          lastSeq = Math.max(lastSeq, record.seq + record.batches.length - 1);
          pos += RECORD_HEADER_BYTES + payload.length;
        }
      } finally {
        await fh.close();
      }
      if (pos < fileSize) {
        // A record cut short by a crash (it was never acknowledged): drop it.
        fileChannelTornRecord.emit(this.#log, { file, at: pos, bytes: fileSize - pos, last: id === ids.at(-1) });
        await fsp.truncate(file, pos);
      }
      state.nextSeq = Math.max(state.nextSeq, lastSeq + 1);
      this.#segments.push({ file, id, lastSeq, size: pos });
    }
  }

  /** After `replay`: appends go to the last data file, or a new one if it is full. */
  async openForAppend(nextSeq: number): Promise<void> {
    const last = this.#segments.at(-1);
    if (last && last.size < this.#maxFileSize) this.#fd = await fsp.open(last.file, 'a');
    else await this.#roll(nextSeq - 1);
  }

  /** Fills in each record's header (length, CRC) for `append`. */
  seal(record: Buffer): void {
    this.#data.seal(record);
  }

  /** Writes sealed records (batches up to `lastSeq`) as one write and one fdatasync. */
  async append(records: Buffer[], lastSeq: number): Promise<void> {
    let seg = this.#segments.at(-1)!;
    const bytes = records.reduce((n, r) => n + r.length, 0);
    if (seg.size > 0 && seg.size + bytes > this.#maxFileSize) {
      await this.#roll(lastSeq);
      seg = this.#segments.at(-1)!;
    }
    await this.#fd!.writev(records);
    await this.#fd!.datasync();
    this.#syncs++;
    seg.size += bytes;
    seg.lastSeq = lastSeq;
  }

  /** Starts a new data file (the directory is synced so the file survives a crash). */
  async #roll(lastSeq: number): Promise<void> {
    await this.#fd?.close();
    const id = (this.#segments.at(-1)?.id ?? 0) + 1;
    const file = this.#data.segmentPath(id);
    this.#fd = await fsp.open(file, 'a');
    await syncDirectoryAsync(this.#dataDir);
    this.#segments.push({ file, id, lastSeq, size: 0 });
  }

  /** Writes the checkpoint durably, then deletes the data files all of whose batches are below `doneBelow`. */
  async writeCheckpoint(checkpoint: FileChannelCheckpoint): Promise<void> {
    await writeFileAtomicAsync(this.#checkpointFile, JSON.stringify(checkpoint));
    while (this.#segments.length > 1 && this.#segments[0]!.lastSeq < checkpoint.doneBelow) {
      const seg = this.#segments.shift()!;
      await fsp.unlink(seg.file);
      fileChannelFileDeleted.emit(this.#log, { file: seg.file });
    }
  }

  async readCheckpoint(): Promise<FileChannelCheckpoint> {
    const file = this.#checkpointFile;
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, doneBelow: 0, doneAbove: [], positions: {}, positionsBelow: 0 };
      throw err;
    }
    const cp = JSON.parse(text) as FileChannelCheckpoint;
    if (cp.version !== 1 || !Number.isInteger(cp.doneBelow)) throw new LogflowError('LF_CHECKPOINT_INCOMPATIBLE', `file channel checkpoint ${file} is not one this version writes`);
    return cp;
  }

  async close(): Promise<void> {
    await this.#fd?.close();
    this.#fd = undefined;
  }
}
