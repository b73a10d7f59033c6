import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { FileChannelConfig } from './file-channel-config.js';
import { LogflowError } from '../errors.js';
import { DirLock, RECORD_HEADER_BYTES, RecordLog, writeFileAtomicAsync, syncDirectoryAsync, type RecordLogFormat } from '../durable/index.js';
import type { Logger } from '../log.js';
import { DEFAULT_KEEP_ALIVE_MS, type Channel } from './channel.js';
import { ChannelRoom } from './channel-room.js';
import { parsePosition, POSITION_HEADER, sourceIdOfKey } from './position-header.js';
import type { EventBatch } from './event-batch.js';
import { fileChannelCheckpointFailed, fileChannelFileDeleted, fileChannelOpened, fileChannelTornRecord, fileChannelWriteFailed } from '../telemetry/index.js';

/** Header whose value `fileKey:nextOffset:count` says where the batch's source file stands. */
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

interface PendingPut {
  readonly batches: readonly EventBatch[];
  readonly events: number;
  resolve(): void;
  reject(err: Error): void;
}

interface CheckpointData {
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
 * Flume's file channel, batch-wise. A put transaction (one or more batches) is appended to
 * the current data file as one record with a CRC and fdatasync'ed before the put resolves;
 * concurrent puts share one write and one sync. Batches stay in memory for the sink, as in
 * the memory channel. A sink's commit is recorded in a small checkpoint (written after
 * commits, at most one write at a time); data files whose batches are all committed are
 * deleted. After a crash, the batches that were put and not committed are read back (a
 * torn last record is cut off), so a batch is delivered at least once.
 *
 * It also answers `committed(fileKey)` from the `lf.pos` headers of the batches it holds
 * durably, so a spooling-directory source resumes a file after the last batch it put.
 */
export class FileChannel implements Channel {
  readonly name: string;
  readonly capacity: number;
  readonly transactionCapacity: number;
  readonly keepAliveMs: number;
  readonly #config: FileChannelConfig;
  readonly #log: Logger;
  readonly #data: RecordLog;
  readonly #room: ChannelRoom;
  readonly #seqOf = new WeakMap<EventBatch, number>();
  #nextSeq = 0;
  /** Batches below this sequence number have their positions in `#positions`. */
  #positionsBelow = 0;
  #replayPositionsFrom = 0;
  #doneBelow = 0;
  readonly #doneAbove = new Set<number>();
  readonly #positions = new Map<string, number>();
  /** Sources in this process whose positions are kept (relayed batches carry others). */
  readonly #trackedSources = new Set<string>();
  readonly #segments: Segment[] = [];
  #fd: fsp.FileHandle | undefined;
  readonly #pendingPuts: PendingPut[] = [];
  #writing: Promise<void> | undefined;
  #checkpointing: Promise<void> | undefined;
  #checkpointDirty = false;
  #locks: DirLock[] = [];
  #closed = false;
  #syncs = 0;

  constructor(config: FileChannelConfig, logger: Logger) {
    this.name = config.name;
    this.capacity = config.capacity;
    this.transactionCapacity = config.transactionCapacity;
    this.keepAliveMs = config.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
    this.#config = config;
    this.#log = logger.child({ channel: config.name });
    this.#data = new RecordLog(config.dataDir, DATA_FORMAT);
    this.#room = new ChannelRoom(config.name, config.capacity, config.transactionCapacity);
  }

  get size(): number {
    return this.#room.held;
  }

  /** fdatasync calls so far (puts share them under load). */
  get syncs(): number {
    return this.#syncs;
  }

  /** Locks the directories and reads back what was put and not committed. */
  async open(): Promise<void> {
    const { checkpointDir, dataDir } = this.#config;
    await fsp.mkdir(checkpointDir, { recursive: true });
    await fsp.mkdir(dataDir, { recursive: true });
    this.#locks.push(DirLock.acquire(checkpointDir, `file channel ${this.name}: checkpointDir`));
    this.#locks.push(DirLock.acquire(dataDir, `file channel ${this.name}: dataDir`));
    const cp = await this.#readCheckpoint();
    this.#doneBelow = cp.doneBelow;
    this.#nextSeq = Math.max(cp.doneBelow, cp.positionsBelow ?? 0);
    for (const s of cp.doneAbove) this.#doneAbove.add(s);
    for (const [k, v] of Object.entries(cp.positions)) this.#positions.set(k, v);
    this.#replayPositionsFrom = cp.positionsBelow ?? 0;
    const ids = await this.#data.segmentsAsync();
    let replayed = 0;
    for (let i = 0; i < ids.length; i++) replayed += await this.#replay(ids[i]!, i === ids.length - 1);
    this.#positionsBelow = this.#nextSeq;
    const last = this.#segments.at(-1);
    if (last && last.size < this.#config.maxFileSize) this.#fd = await fsp.open(last.file, 'a');
    else await this.#roll();
    fileChannelOpened.emit(this.#log, { events: replayed, batches: this.#room.queue.length, segments: this.#segments.length });
    if (this.#room.queue.length === 0) this.#scheduleCheckpoint();
  }

  async put(batch: EventBatch): Promise<void> {
    return this.putAll([batch]);
  }

  async putAll(batches: readonly EventBatch[], signal?: AbortSignal): Promise<void> {
    const events = await this.#room.reserve(batches, signal, () => {
      if (this.#closed || !this.#fd) throw new LogflowError('LF_CHANNEL_CLOSED', `file channel ${this.name} is not open`);
    });
    // Room is reserved now, so puts waiting for the disk cannot overfill the channel.
    await new Promise<void>((resolve, reject) => {
      this.#pendingPuts.push({ batches, events, resolve, reject });
      this.#writing ??= this.#writeLoop();
    });
    // Delivered, as far as the source is concerned: the events are durable here.
    for (const b of batches) b.onDelivered?.();
  }

  take(maxEvents: number): EventBatch[] {
    return this.#room.queue.take(maxEvents);
  }

  commit(taken: readonly EventBatch[]): void {
    let events = 0;
    for (const b of taken) {
      events += b.count;
      const seq = this.#seqOf.get(b);
      if (seq !== undefined) this.#doneAbove.add(seq);
    }
    while (this.#doneAbove.delete(this.#doneBelow)) this.#doneBelow++;
    this.#room.release(events);
    this.#scheduleCheckpoint();
  }

  waitForEvents(): Promise<void> {
    return this.#room.waitForEvents();
  }

  interrupt(): void {
    this.#room.interrupt();
  }

  admitOverCapacity(): void {
    this.#room.admitOverCapacity();
  }

  /** Keeps the positions of this source's files (before `open`, so replay finds them). */
  trackSource(sourceId: string): void {
    this.#trackedSources.add(sourceId);
  }

  /** Source positions (the `SourcePositions` of a spooling-directory source). */
  committed(fileKey: string): number | undefined {
    return this.#positions.get(fileKey);
  }

  forget(fileKey: string): void {
    this.#positions.delete(fileKey);
    this.#scheduleCheckpoint();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writing;
    while (this.#checkpointing) await this.#checkpointing;
    await this.#writeCheckpoint();
    await this.#fd?.close();
    this.#fd = undefined;
    for (const l of this.#locks) l.release();
    this.#locks = [];
  }

  /** Writes the puts queued so far as one write and one fdatasync; repeats while more came. */
  async #writeLoop(): Promise<void> {
    while (this.#pendingPuts.length > 0) {
      const puts = this.#pendingPuts.splice(0, this.#pendingPuts.length);
      const firstSeq = this.#nextSeq;
      const records = puts.map((p) => {
        const rec = encodeRecord(this.#nextSeq, p.batches);
        this.#data.seal(rec);
        this.#nextSeq += p.batches.length;
        return rec;
      });
      try {
        await this.#append(records, this.#nextSeq - 1);
      } catch (err) {
        this.#nextSeq = firstSeq;
        fileChannelWriteFailed.emit(this.#log, { err });
        let freed = 0;
        for (const p of puts) {
          freed += p.events;
          p.reject(err as Error);
        }
        this.#room.release(freed);
        continue;
      }
      let seq = firstSeq;
      for (const p of puts) {
        for (const b of p.batches) this.#enqueue(stripCallbacks(b), seq++);
        p.resolve();
      }
      this.#positionsBelow = seq;
      this.#room.eventsQueued();
    }
    this.#writing = undefined;
  }

  async #append(records: Buffer[], lastSeq: number): Promise<void> {
    let seg = this.#segments.at(-1)!;
    const bytes = records.reduce((n, r) => n + r.length, 0);
    if (seg.size > 0 && seg.size + bytes > this.#config.maxFileSize) {
      await this.#roll();
      seg = this.#segments.at(-1)!;
    }
    await this.#fd!.writev(records);
    await this.#fd!.datasync();
    this.#syncs++;
    seg.size += bytes;
    seg.lastSeq = lastSeq;
  }

  /** Starts a new data file (the directory is synced so the file survives a crash). */
  async #roll(): Promise<void> {
    await this.#fd?.close();
    const id = (this.#segments.at(-1)?.id ?? 0) + 1;
    const file = this.#data.segmentPath(id);
    this.#fd = await fsp.open(file, 'a');
    await syncDirectoryAsync(this.#config.dataDir);
    this.#segments.push({ file, id, lastSeq: this.#nextSeq - 1, size: 0 });
  }

  #enqueue(batch: EventBatch, seq: number): void {
    this.#seqOf.set(batch, seq);
    this.#room.queue.push(batch);
    const pos = batch.firstHeaders?.[POSITION_HEADER];
    if (pos !== undefined) this.#notePosition(pos);
  }

  #notePosition(value: string): void {
    if (!value.includes(':')) return;
    const { key, offset } = parsePosition(value);
    if (!this.#trackedSources.has(sourceIdOfKey(key))) return;
    if (Number.isFinite(offset) && (this.#positions.get(key) ?? -1) < offset) this.#positions.set(key, offset);
  }

  /** Reads one data file back; returns the events it still holds. */
  async #replay(id: number, isLast: boolean): Promise<number> {
    const file = this.#data.segmentPath(id);
    const fh = await fsp.open(file, 'r');
    const fileSize = (await fh.stat()).size;
    const head = Buffer.alloc(RECORD_HEADER_BYTES);
    let pos = 0;
    let events = 0;
    let lastSeq = this.#nextSeq - 1;
    // Record by record, so a large data file is never in memory at once.
    for (let payload; (payload = await this.#data.readAt(fh, pos, fileSize, head)); ) {
      const end = pos + RECORD_HEADER_BYTES + payload.length;
      const { seq, batches } = decodeRecord(payload);
      for (let i = 0; i < batches.length; i++) {
        const s = seq + i;
        const b = batches[i]!;
        // Positions count even for committed batches (the source must not read them
        // again), unless the checkpoint has them already (or has forgotten them).
        const p = b.firstHeaders?.[POSITION_HEADER];
        if (p !== undefined && s >= this.#replayPositionsFrom) this.#notePosition(p);
        if (s < this.#doneBelow || this.#doneAbove.has(s)) continue;
        this.#seqOf.set(b, s);
        this.#room.queue.push(b);
        this.#room.hold(b.count);
        events += b.count;
      }
      lastSeq = Math.max(lastSeq, seq + batches.length - 1);
      pos = end;
    }
    await fh.close();
    if (pos < fileSize) {
      // A record cut short by a crash (it was never acknowledged): drop it.
      fileChannelTornRecord.emit(this.#log, { file, at: pos, bytes: fileSize - pos, last: isLast });
      await fsp.truncate(file, pos);
    }
    this.#nextSeq = Math.max(this.#nextSeq, lastSeq + 1);
    this.#segments.push({ file, id, lastSeq, size: pos });
    return events;
  }

  #scheduleCheckpoint(): void {
    this.#checkpointDirty = true;
    if (this.#checkpointing || this.#closed) return;
    this.#checkpointing = (async () => {
      try {
        while (this.#checkpointDirty) {
          this.#checkpointDirty = false;
          await this.#writeCheckpoint();
        }
      } catch (err) {
        fileChannelCheckpointFailed.emit(this.#log, { err });
      } finally {
        this.#checkpointing = undefined;
      }
    })();
  }

  /** Writes the take position durably, then deletes data files that are all committed. */
  async #writeCheckpoint(): Promise<void> {
    const doneBelow = this.#doneBelow;
    const data: CheckpointData = {
      version: 1,
      doneBelow,
      doneAbove: [...this.#doneAbove],
      positions: Object.fromEntries(this.#positions),
      positionsBelow: this.#positionsBelow,
    };
    await writeFileAtomicAsync(path.join(this.#config.checkpointDir, CHECKPOINT), JSON.stringify(data));
    while (this.#segments.length > 1 && this.#segments[0]!.lastSeq < doneBelow) {
      const seg = this.#segments.shift()!;
      await fsp.unlink(seg.file);
      fileChannelFileDeleted.emit(this.#log, { file: seg.file });
    }
  }

  async #readCheckpoint(): Promise<CheckpointData> {
    const file = path.join(this.#config.checkpointDir, CHECKPOINT);
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, doneBelow: 0, doneAbove: [], positions: {}, positionsBelow: 0 };
      throw err;
    }
    const cp = JSON.parse(text) as CheckpointData;
    if (cp.version !== 1 || !Number.isInteger(cp.doneBelow)) throw new LogflowError('LF_CHECKPOINT_INCOMPATIBLE', `file channel checkpoint ${file} is not one this version writes`);
    return cp;
  }

}

function stripCallbacks(b: EventBatch): EventBatch {
  if (!b.onDelivered) return b;
  const { onDelivered: _, ...rest } = b;
  return rest;
}

/**
 * One put transaction: `[seq f64][batches u16]`, then per batch `[meta length u32][meta
 * JSON (headers, firstHeaders)][count u32][count body lengths u32][bodies]`; framed by
 * `[length][crc32]` (RecordLog.seal fills it in).
 */
export function encodeRecord(seq: number, batches: readonly EventBatch[]): Buffer {
  const metas = batches.map((b) => Buffer.from(JSON.stringify(b.firstHeaders ? [b.headers, b.firstHeaders] : [b.headers])));
  let size = RECORD_HEADER_BYTES + 8 + 2;
  for (let i = 0; i < batches.length; i++) {
    const b = batches[i]!;
    size += 4 + metas[i]!.length + 4 + 4 * b.count;
    for (let e = 0; e < b.count; e++) size += b.ends[e]! - b.starts[e]!;
  }
  const out = Buffer.allocUnsafe(size);
  let pos = RECORD_HEADER_BYTES;
  out.writeDoubleBE(seq, pos);
  pos += 8;
  out.writeUInt16BE(batches.length, pos);
  pos += 2;
  for (let i = 0; i < batches.length; i++) {
    const b = batches[i]!;
    out.writeUInt32BE(metas[i]!.length, pos);
    pos += 4 + metas[i]!.copy(out, pos + 4);
    out.writeUInt32BE(b.count, pos);
    pos += 4;
    for (let e = 0; e < b.count; e++) {
      out.writeUInt32BE(b.ends[e]! - b.starts[e]!, pos);
      pos += 4;
    }
    for (let e = 0; e < b.count; e++) pos += b.data.copy(out, pos, b.starts[e]!, b.ends[e]!);
  }
  return out;
}

export function decodeRecord(payload: Buffer): { seq: number; batches: EventBatch[] } {
  let pos = 0;
  const seq = payload.readDoubleBE(pos);
  pos += 8;
  const n = payload.readUInt16BE(pos);
  pos += 2;
  const batches: EventBatch[] = [];
  for (let i = 0; i < n; i++) {
    const metaLen = payload.readUInt32BE(pos);
    const meta = JSON.parse(payload.toString('utf8', pos + 4, pos + 4 + metaLen)) as [Record<string, string>, Record<string, string>?];
    pos += 4 + metaLen;
    const count = payload.readUInt32BE(pos);
    pos += 4;
    const starts = new Int32Array(count);
    const ends = new Int32Array(count);
    let at = 0;
    for (let e = 0; e < count; e++) {
      starts[e] = at;
      at += payload.readUInt32BE(pos);
      ends[e] = at;
      pos += 4;
    }
    // A view: the record's buffer is read for this record alone.
    const data = payload.subarray(pos, pos + at);
    pos += at;
    batches.push({ data, starts, ends, count, headers: meta[0], ...(meta[1] && { firstHeaders: meta[1] }) });
  }
  return { seq, batches };
}
