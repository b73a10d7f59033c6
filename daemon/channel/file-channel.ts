import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { FileChannelConfig } from './file-channel-config.js';
import { LogflowError } from '../errors.js';
import { DirLock, writeFileAtomicAsync } from '../durable/index.js';
import type { Logger } from '../log.js';
import { channelComponent, DEFAULT_KEEP_ALIVE_MS, type Channel } from './channel.js';
import { ChannelRoom } from './channel-room.js';
import { parsePosition, POSITION_HEADER, sourceIdOfKey } from './position-header.js';
import type { EventBatch } from './event-batch.js';
import { FileChannelData, type FileChannelCheckpoint } from './file-channel-data.js';
import { encodeRecord } from './file-channel-record.js';
import { fileChannelCheckpointFailed, fileChannelOpened, fileChannelWriteFailed } from '../telemetry/index.js';

interface PendingPut {
  readonly batches: readonly EventBatch[];
  readonly events: number;
  resolve(): void;
  reject(err: Error): void;
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
 *
 * This class is the Channel side (room, sequence numbers, commits, positions); the files
 * are `FileChannelData`'s (file-channel-data.ts), a record's bytes file-channel-record.ts's.
 */
export class FileChannel implements Channel {
  readonly name: string;
  readonly capacity: number;
  readonly transactionCapacity: number;
  readonly keepAliveMs: number;
  readonly #config: FileChannelConfig;
  readonly #log: Logger;
  /** The data files and the checkpoint file. */
  readonly #data: FileChannelData;
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
  readonly #pendingPuts: PendingPut[] = [];
  #writing: Promise<void> | undefined;
  #checkpointing: Promise<void> | undefined;
  #checkpointDirty = false;
  #locks: DirLock[] = [];
  #closed = false;
  #epoch = '';

  constructor(config: FileChannelConfig, logger: Logger) {
    this.name = config.name;
    this.capacity = config.capacity;
    this.transactionCapacity = config.transactionCapacity;
    this.keepAliveMs = config.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
    this.#config = config;
    this.#log = logger.child({ channel: config.name });
    this.#data = new FileChannelData(config, this.#log);
    this.#room = new ChannelRoom(config.name, config.capacity, config.transactionCapacity);
  }

  get size(): number {
    return this.#room.held;
  }

  get waitingPuts(): number {
    return this.#room.waitingPuts;
  }

  /** fdatasync calls so far (puts share them under load). */
  get syncs(): number {
    return this.#data.syncs;
  }

  /** Locks the directories and reads back what was put and not committed. */
  async open(): Promise<void> {
    const { checkpointDir, dataDir } = this.#config;
    await fsp.mkdir(checkpointDir, { recursive: true });
    await fsp.mkdir(dataDir, { recursive: true });
    this.#locks.push(DirLock.acquire(checkpointDir, `file channel ${this.name}: checkpointDir`));
    this.#locks.push(DirLock.acquire(dataDir, `file channel ${this.name}: dataDir`));
    const cp = await this.#data.readCheckpoint();
    this.#doneBelow = cp.doneBelow;
    this.#nextSeq = Math.max(cp.doneBelow, cp.positionsBelow ?? 0);
    for (const s of cp.doneAbove) this.#doneAbove.add(s);
    for (const [k, v] of Object.entries(cp.positions)) this.#positions.set(k, v);
    this.#replayPositionsFrom = cp.positionsBelow ?? 0;
    const replayed = await this.#replay();
    this.#positionsBelow = this.#nextSeq;
    await this.#data.openForAppend(this.#nextSeq);
    this.#epoch = await readOrMakeEpoch(this.#config.checkpointDir);
    fileChannelOpened.emit(this.#log, { events: replayed, batches: this.#room.queue.length, segments: this.#data.segmentCount });
    if (this.#room.queue.length === 0) this.#scheduleCheckpoint();
  }

  async put(batch: EventBatch): Promise<void> {
    return this.putAll([batch]);
  }

  async putAll(batches: readonly EventBatch[], signal?: AbortSignal): Promise<void> {
    const events = await this.#room.reserve(batches, signal, () => {
      if (this.#closed || !this.#data.writable) throw new LogflowError('LF_CHANNEL_CLOSED', `file channel ${this.name} is not open`);
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

  durableIdOf(batch: EventBatch): string | undefined {
    const seq = this.#seqOf.get(batch);
    return seq === undefined ? undefined : `${this.#epoch}:${seq}`;
  }

  /** Keeps the positions of this source's files (before `open`, so replay finds them). */
  trackSource(sourceId: string): void {
    this.#trackedSources.add(sourceId);
  }

  /** Source positions (the `SourcePositions` of a spooling-directory source). */
  committed(fileKey: string): number | undefined {
    return this.#positions.get(fileKey);
  }

  committedEntries(): Iterable<[string, number]> {
    return this.#positions.entries();
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
    await this.#data.close();
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
        await this.#data.append(records, this.#nextSeq - 1);
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

  /** Reads the data files back: the batches not committed are queued again; returns their events. */
  async #replay(): Promise<number> {
    const state = { nextSeq: this.#nextSeq };
    let events = 0;
    for await (const { seq, batches } of this.#data.replay(state)) {
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
    }
    this.#nextSeq = state.nextSeq;
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
    const checkpoint: FileChannelCheckpoint = {
      version: 1,
      doneBelow: this.#doneBelow,
      doneAbove: [...this.#doneAbove],
      positions: Object.fromEntries(this.#positions),
      positionsBelow: this.#positionsBelow,
    };
    await this.#data.writeCheckpoint(checkpoint);
  }
}

/**
 * The name of this channel's sequence numbers (`channel-id` beside its checkpoint): made
 * when the channel is first opened, and written before any batch is named by it, so a
 * channel made anew (its directories wiped) is not taken for the old one by a sink that
 * remembers the sequences it delivered (the jetstream sink, `durableIdOf`).
 */
async function readOrMakeEpoch(checkpointDir: string): Promise<string> {
  const file = path.join(checkpointDir, 'channel-id');
  try {
    const id = (await fsp.readFile(file, 'utf8')).trim();
    if (/^[0-9a-f]{12}$/.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = randomBytes(6).toString('hex');
  await writeFileAtomicAsync(file, id + '\n');
  return id;
}

function stripCallbacks(b: EventBatch): EventBatch {
  if (!b.onDelivered) return b;
  const { onDelivered: _, ...rest } = b;
  return rest;
}

/**
 * `type = file` (components.ts). It keeps the positions of the spool sources that put into
 * it: a file resumes after the last batch put durably, and finishes once all of it is in.
 */
export function build(config: FileChannelConfig, ctx: { readonly logger: Logger }) {
  const channel = new FileChannel(config, ctx.logger);
  return {
    ...channelComponent(channel, () => channel.open()),
    positionKeeper: {
      keepPositions(sourceId: string) {
        channel.trackSource(sourceId);
        return channel;
      },
    },
  };
}
