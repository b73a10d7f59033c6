import { constants as fsc, promises as fsp, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import type { Channel, EventBatch } from '../channel/index.js';
import { encodePosition, POSITION_HEADER } from '../channel/position-header.js';
import type { SpoolDirSourceConfig } from './spooldir-config.js';
import type { Logger } from '../log.js';
import { ChunkPool, type Chunk } from './chunk-pool.js';
import { FileRegistry, type FileStatus } from './file-registry.js';
import { FileRecords } from './file-records.js';
import { fullHash, headFingerprint, RunningHash, type Fingerprint } from './fingerprint.js';
import { mostlyUnparsed, unparsedSamples, type LineCheck } from './format-warning.js';
import { GrowingFile } from './growing-file.js';
import { GunzipSource, PlainSource, type ByteSource } from './byte-source.js';
import { LineScanner } from './line-scanner.js';
import { SpoolWatcher } from './spool-watcher.js';
import { dropInvalidUtf8, isUtf8, replaceInvalidUtf8 } from './utf8.js';

const CHUNK_BYTES = 1 << 20;

export { POSITION_HEADER } from '../channel/position-header.js';

/** What the source needs from whoever durably counts its events (the job, in-process). */
export interface SourcePositions {
  /** Offset below which the file's lines are durably counted, if any are. */
  committed(fileKey: string): number | undefined;
  /** The file is finished: its position need not be kept. */
  forget(fileKey: string): void;
  /** Lines of the file that were not access-log lines, for the completion log line. */
  parseErrors?(fileKey: string): number | undefined;
  /** The job's log format and line parser, to show lines of a file that mostly did not parse. */
  readonly lineCheck?: { readonly format: string; readonly parses: LineCheck };
}

/** A file whose content was counted before is renamed with this suffix (`fileIdentity = content`). */
export const DUPLICATE_SUFFIX = '.DUPLICATE';

interface OpenFile {
  readonly status: FileStatus;
  /** Identifies this file's content: name, inode, size and mtime. */
  readonly key: string;
  /** Bytes to count (decompressed for gzip: known at the end of reading). */
  size: number;
  outstanding: number;
  readDone: boolean;
  /** Why the file ends as failed (e.g. it changed while read); set once its read part is counted. */
  problem: string | undefined;
  /** Lines with invalid UTF-8 that were repaired (decodeErrorPolicy REPLACE or IGNORE). */
  decodeErrors: number;
  /** Its content's fingerprint, recorded when it completes (`fileIdentity = content`). */
  fingerprint: Fingerprint | undefined;
}

class SourceStopped extends Error {}

/** Events are UTF-8 on the wire: ISO-8859-1 lines are re-encoded (ASCII chunks cost nothing). */
function latin1ToUtf8(data: Buffer, starts: Int32Array, ends: Int32Array, count: number) {
  const last = count > 0 ? ends[count - 1]! : 0;
  let ascii = true;
  for (let i = 0; i < last && ascii; i++) ascii = data[i]! < 0x80;
  if (ascii) return { data, starts, ends };
  const parts: Buffer[] = [];
  const newStarts = new Int32Array(count);
  const newEnds = new Int32Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const part = Buffer.from(data.toString('latin1', starts[i], ends[i]), 'utf8');
    parts.push(part);
    newStarts[i] = at;
    at += part.length;
    newEnds[i] = at;
  }
  return { data: Buffer.concat(parts, at), starts: newStarts, ends: newEnds };
}

export function sourceIdOf(spoolDir: string): string {
  return createHash('sha1').update(`${os.hostname()}:${spoolDir}`).digest('hex').slice(0, 8);
}

/** A file's key in position headers and checkpoints: this name, inode, size and mtime. */
export function fileKeyOf(sourceId: string, name: string, st: { ino: number; size: number; mtimeMs: number }): string {
  return `${sourceId}-${createHash('sha1').update(`${name}|${st.ino}|${st.size}|${st.mtimeMs}`).digest('hex').slice(0, 12)}`;
}

interface Candidate {
  readonly path: string;
  readonly name: string;
  size: number;
  mtimeMs: number;
}

/**
 * Flume's spooling-directory source: every line of every file dropped into `spoolDir`
 * becomes an event; a file is renamed with `fileSuffix` (or deleted) once all of its
 * events are delivered downstream. Files are read one at a time, in `consumeOrder`.
 */
export class SpoolDirSource {
  readonly name: string;
  readonly files = new FileRegistry();
  readonly #config: SpoolDirSourceConfig;
  readonly #channel: Channel;
  readonly #log: Logger;
  readonly #chunkBytes: number;
  readonly #chunks: ChunkPool;
  /** Files seen but not yet trusted complete: their size and mtime must settle. */
  readonly #settling = new Map<string, Candidate>();
  /** Files ready to read, in consume order. */
  #ready: Candidate[] = [];
  readonly #readyPaths = new Set<string>();
  #watcher: SpoolWatcher | undefined;
  #settleTimer: NodeJS.Timeout | undefined;
  #wakeReader: (() => void) | undefined;
  #readerDone: Promise<void> = Promise.resolve();
  #stopping = false;
  /** Files read to their end, waiting to be delivered or committed before they are finished. */
  readonly #finishing = new Set<OpenFile>();
  #eventsRead = 0;
  readonly #sourceId: string;
  #truncatedLines = 0;
  readonly #positions: SourcePositions | undefined;
  readonly #completeOn: 'delivered' | 'committed';
  #records: FileRecords | undefined;

  /**
   * With `positions` (the job runs in this process), a file resumes from its committed
   * offset after a restart and is finished only once all of it is committed; without, a
   * file is finished when the sink has delivered all of its events (Flume's behaviour).
   */
  constructor(config: SpoolDirSourceConfig, channel: Channel, logger: Logger, positions?: SourcePositions) {
    this.name = config.name;
    this.#config = config;
    this.#channel = channel;
    this.#log = logger.child({ source: config.name });
    this.#chunkBytes = Math.max(CHUNK_BYTES, config.maxLineLength * 2 + 4096);
    this.#chunks = new ChunkPool(this.#chunkBytes);
    this.#sourceId = sourceIdOf(config.spoolDir);
    this.#positions = positions;
    this.#completeOn = positions ? 'committed' : 'delivered';
  }

  /** Prefix of this source's file keys in position headers. */
  get sourceId(): string {
    return this.#sourceId;
  }

  /** Every file seen, newest last, with live parse errors for the ones being read. */
  fileList(): FileStatus[] {
    return this.files.list().map((f) =>
      f.state === 'reading' && f.key && this.#positions?.parseErrors ? { ...f, parseErrors: this.#positions.parseErrors(f.key) ?? 0 } : f,
    );
  }

  get eventsRead(): number {
    return this.#eventsRead;
  }

  /** Lines cut at maxLineLength so far (their rest is dropped), for /metrics. */
  get truncatedLines(): number {
    return this.#truncatedLines;
  }

  async start(): Promise<void> {
    await fsp.mkdir(this.#config.spoolDir, { recursive: true });
    await fsp.access(this.#config.spoolDir, fsc.R_OK | fsc.W_OK);
    this.#records = new FileRecords(this.#config.trackerDir, this.#config.retentionMs);
    this.files.restore(this.#records.recent(10_000), this.#records.counts());
    this.#watcher = new SpoolWatcher(
      this.#config.spoolDir,
      (name) => this.#wanted(name),
      { found: (p, stats) => this.#onAdd(p, stats), gone: (p) => this.#onUnlink(p) },
      this.#log,
      this.#config.pollDelay,
    );
    await this.#watcher.start();
    this.#readerDone = this.#readLoop();
    this.#log.info({ spoolDir: this.#config.spoolDir }, 'watching spool directory');
  }

  /** Stops taking new files and reading; what was read stays in the channel. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#settleTimer);
    this.#wakeReader?.();
    await this.#watcher?.close();
    await this.#readerDone;
  }

  /** After the last `completeFinished()`: the records of finished files are closed. */
  close(): void {
    this.#records?.close();
    this.#records = undefined;
  }

  #wanted(name: string): boolean {
    const c = this.#config;
    return !name.startsWith('.')
      && !name.endsWith(c.fileSuffix)
      && !name.endsWith(c.failedSuffix)
      && !name.endsWith(DUPLICATE_SUFFIX)
      && c.includePattern.test(name)
      && !c.ignorePattern.test(name);
  }

  #onAdd(p: string, stats: Stats | undefined): void {
    if (this.#stopping || !stats?.isFile()) return;
    const known = this.files.get(p);
    if (known && known.state !== 'pending') return;
    const name = path.basename(p);
    if (!known) this.files.add(p, name, stats.size);
    const cand = { path: p, name, size: stats.size, mtimeMs: stats.mtimeMs };
    // A file written earlier and renamed in is complete already: no need to wait.
    if (Date.now() - stats.mtimeMs >= this.#config.pollDelay && !this.#settling.has(p)) {
      if (!this.#readyPaths.has(p)) this.#enqueueReady(cand);
      return;
    }
    this.#settling.set(p, cand);
    this.#scheduleSettle();
  }

  #onUnlink(p: string): void {
    if (this.#settling.delete(p) || this.#removeReady(p)) this.files.remove(p);
  }

  #removeReady(p: string): boolean {
    if (!this.#readyPaths.delete(p)) return false;
    const i = this.#ready.findIndex((c) => c.path === p);
    if (i >= 0) this.#ready.splice(i, 1);
    return i >= 0;
  }

  #scheduleSettle(): void {
    this.#settleTimer ??= setTimeout(() => {
      this.#settleTimer = undefined;
      void this.#checkSettled();
    }, Math.min(this.#config.pollDelay, 100));
  }

  /**
   * A file is complete when it has not changed for `pollDelay` ms: its mtime is that old,
   * or its size and mtime were the same at two looks `pollDelay` apart.
   */
  async #checkSettled(): Promise<void> {
    const now = Date.now();
    const ready: Candidate[] = [];
    for (const cand of [...this.#settling.values()]) {
      let st: Stats;
      try {
        st = await fsp.stat(cand.path);
      } catch {
        this.#settling.delete(cand.path);
        this.files.remove(cand.path);
        continue;
      }
      if (st.size === cand.size && st.mtimeMs === cand.mtimeMs && now - st.mtimeMs >= this.#config.pollDelay) {
        this.#settling.delete(cand.path);
        ready.push(cand);
      } else {
        cand.size = st.size;
        cand.mtimeMs = st.mtimeMs;
      }
    }
    // All at once, so that files found together are read in consume order.
    for (const cand of ready) this.#enqueueReady(cand);
    if (this.#settling.size > 0) this.#scheduleSettle();
  }

  #enqueueReady(cand: Candidate): void {
    this.#readyPaths.add(cand.path);
    const order = this.#config.consumeOrder;
    if (order === 'random') {
      this.#ready.splice(Math.floor(Math.random() * (this.#ready.length + 1)), 0, cand);
    } else {
      const before = order === 'oldest'
        ? (a: Candidate, b: Candidate) => a.mtimeMs < b.mtimeMs || (a.mtimeMs === b.mtimeMs && a.name < b.name)
        : (a: Candidate, b: Candidate) => a.mtimeMs > b.mtimeMs || (a.mtimeMs === b.mtimeMs && a.name < b.name);
      let lo = 0;
      let hi = this.#ready.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (before(this.#ready[mid]!, cand)) lo = mid + 1;
        else hi = mid;
      }
      this.#ready.splice(lo, 0, cand);
    }
    this.#wakeReader?.();
  }

  async #readLoop(): Promise<void> {
    while (!this.#stopping) {
      const next = this.#ready.shift();
      if (!next) {
        await new Promise<void>((resolve) => (this.#wakeReader = resolve));
        this.#wakeReader = undefined;
        continue;
      }
      this.#readyPaths.delete(next.path);
      const status = this.files.get(next.path) ?? this.files.add(next.path, next.name, next.size);
      try {
        await this.#ingest(status);
      } catch (err) {
        if (err instanceof SourceStopped) status.state = 'pending';
        else await this.#quarantine(status, `read failed: ${(err as Error).message}`);
      }
    }
  }

  async #ingest(status: FileStatus): Promise<void> {
    const fh = await this.#open(status);
    if (!fh) return;
    let source: ByteSource | undefined;
    let hash: RunningHash | undefined;
    try {
      const st = await fh.stat();
      if (!st.isFile()) {
        this.#fail(status, 'not a regular file (replaced after it was found); left alone');
        return;
      }
      const gzip = status.name.endsWith('.gz');
      const key = fileKeyOf(this.#sourceId, status.name, st);
      let fingerprint: Fingerprint | undefined;
      if (this.#config.fileIdentity === 'content' && this.#records) {
        fingerprint = headFingerprint(fh, st.size);
        const original = await this.#originalOf(fh, fingerprint, key);
        if (original) {
          await this.#duplicate(status, key, st.size, original);
          return;
        }
      }
      const file: OpenFile = {
        status,
        key,
        // For gzip, the decompressed size is known once it is read to its end.
        size: gzip ? Infinity : st.size,
        outstanding: 0,
        readDone: false,
        problem: undefined,
        decodeErrors: 0,
        fingerprint: undefined,
      };
      status.key = file.key;
      const committed = this.#positions?.committed(file.key) ?? 0;
      const resumeAt = gzip ? committed : Math.min(committed, st.size);
      status.state = 'reading';
      status.startedAt = Date.now();
      status.size = st.size;
      status.bytesRead = resumeAt;
      this.#log.info({ file: status.path, bytes: status.size, resumeAt, gzip }, resumeAt > 0 ? 'file resumed' : 'file started');
      if (gzip) {
        const gz = new GunzipSource(status.path);
        source = gz;
        await gz.discard(resumeAt);
      } else {
        // The whole file's hash as it is read, when it will be recorded and is not known yet.
        hash = fingerprint && fingerprint.full === undefined ? new RunningHash() : undefined;
        source = new PlainSource(fh.fd, st.size, resumeAt, hash);
      }
      const growing = gzip ? undefined : GrowingFile.open(fh, status.path, st, this.#config.pollDelay, fingerprint?.head);
      await this.#readLines(source, file, growing);
      if (gzip) {
        file.size = source.position;
        if (!file.problem) await this.#checkUnchanged(fh, st, source, file);
      }
      if (fingerprint && !file.problem) {
        // The fingerprint of what was read (a file that grew has a new one).
        const size = gzip ? st.size : file.size;
        file.fingerprint = size === fingerprint.size ? fingerprint : headFingerprint(fh, size);
        file.fingerprint.full ??= hash?.digestOf(size) ?? (await fullHash(fh, size));
      }
      file.readDone = true;
      this.#log.debug({ file: status.path, readMs: Date.now() - status.startedAt! }, 'file read to its end');
      this.#finishing.add(file);
      await this.#maybeComplete(file);
    } finally {
      source?.close();
      await fh.close();
    }
  }

  /**
   * Opens without blocking: a FIFO put in the spool would otherwise hold the open (and the
   * source) until someone writes to it. A file gone before it was read is forgotten quietly.
   */
  async #open(status: FileStatus): Promise<FileHandle | undefined> {
    try {
      return await fsp.open(status.path, fsc.O_RDONLY | fsc.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.files.remove(status.path);
      this.#watcher?.forget(status.name);
      this.#log.info({ file: status.path }, 'file removed before it was read');
      return undefined;
    }
  }

  /**
   * At the end of a plain file: one still being written (it grows) is read on; one that
   * shrank or was replaced keeps what was read (counted) and ends as failed, with the reason.
   */
  async #atEnd(growing: GrowingFile, source: PlainSource, file: OpenFile): Promise<void> {
    const end = await growing.atEnd(file.size, source.position, () => this.#stopping);
    if (end.kind === 'stopped') throw new SourceStopped();
    if (end.kind === 'grew') {
      if (file.status.size !== end.size) this.#log.info({ file: file.status.path, from: file.size, to: end.size }, 'file still being written: reading on');
      source.extend(end.size);
      file.size = end.size;
      file.status.size = end.size;
    } else if (end.kind === 'changed') {
      file.size = source.position;
      file.problem = end.problem;
      file.status.reason = end.problem;
      this.#log.error({ file: file.status.path, bytesRead: source.position, reason: end.problem }, 'file changed while it was read');
    }
  }

  /**
   * The first completed file with the same content, if any (not this very file: one
   * recorded just before a crash, before its rename, is read again, not a duplicate).
   */
  async #originalOf(fh: FileHandle, fingerprint: Fingerprint, key: string) {
    const candidates = this.#records!.candidates(fingerprint).filter((c) => c.key !== key);
    if (candidates.length === 0) return undefined;
    fingerprint.full ??= await fullHash(fh, fingerprint.size);
    return candidates.find((c) => c.fullHash === fingerprint.full);
  }

  /** A file counted before under another name (or dropped twice): recorded, renamed `.DUPLICATE` (or deleted), not read. */
  async #duplicate(status: FileStatus, key: string, size: number, original: { name: string }): Promise<void> {
    const reason = `same content as ${original.name}, which was counted; not counted again`;
    Object.assign(status, { key, size, duplicateOf: original.name });
    // Before the rename: a crash in between finds it a duplicate again.
    this.#records!.save({ ...status, state: 'duplicate', finishedAt: Date.now(), reason });
    const immediate = this.#config.deletePolicy === 'immediate';
    const target = immediate ? undefined : await this.#finishedName(status, DUPLICATE_SUFFIX);
    try {
      if (target) await fsp.rename(status.path, target);
      else await fsp.unlink(status.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.#watcher?.forget(status.name);
    this.files.finish(status, 'duplicate', target ? `${reason}; renamed ${path.basename(target)}` : `${reason}; deleted`);
    this.#records!.save(status);
    this.#log.warn({ file: status.path, duplicateOf: original.name, renamedTo: target }, 'file already counted (same content): not counted again');
  }

  /**
   * Flume wants a spooled file immutable. A gzip file that grew, shrank or was rewritten while
   * it was read keeps what was read (counted), and ends as failed with the reason.
   */
  async #checkUnchanged(fh: FileHandle, before: Stats, source: ByteSource, file: OpenFile): Promise<void> {
    const after = await fh.stat();
    if (after.size === before.size && after.mtimeMs === before.mtimeMs && (file.size === Infinity || source.position === file.size)) return;
    const what = after.size < before.size ? 'shrank' : after.size > before.size ? 'grew' : 'was rewritten';
    if (file.size !== Infinity) file.size = source.position;
    file.problem = `${what} while it was read (${before.size} -> ${after.size} bytes); its first ${source.position} bytes were read`;
    file.status.reason = file.problem;
    this.#log.error({ file: file.status.path, before: before.size, after: after.size, bytesRead: source.position }, 'file changed while it was read');
  }

  async #readLines(source: ByteSource, file: OpenFile, growing: GrowingFile | undefined): Promise<void> {
    const status = file.status;
    // Small files get small buffers: 10,000 one-line files spent a third of their time in GC
    // when each took a 1 MB chunk and 64 KB of line ranges.
    const expectedLines = Math.max(16, Math.min(8192, Math.ceil(source.remaining / 64)));
    const scanner = new LineScanner(this.#config.maxLineLength, expectedLines);
    const headers = this.#baseHeaders(status);
    const onDelivered = () => {
      file.outstanding--;
      if (file.readDone && this.#completeOn === 'delivered') void this.#maybeComplete(file);
    };
    let carry: Buffer = Buffer.alloc(0);
    let previous: Chunk | undefined;
    try {
      for (;;) {
        if (this.#stopping) throw new SourceStopped();
        if (growing && source.remaining === 0) await this.#atEnd(growing, source as PlainSource, file);
        const chunk = this.#chunks.take(Math.min(this.#chunkBytes, carry.length + source.remaining + 1));
        const buf = chunk.buf;
        carry.copy(buf, 0);
        previous?.release();
        previous = chunk;
        // The offset of buf[0] in the file: every line's resume offset is derived from it.
        const bufOffset = source.position - carry.length;
        const bytesRead = await source.read(buf, carry.length, buf.length - carry.length);
        // The end came early: the file shrank (found as such, the lines read are kept).
        if (bytesRead === 0 && growing && source.remaining > 0 && !file.problem) await this.#atEnd(growing, source as PlainSource, file);
        const filled = carry.length + bytesRead;
        scanner.resetRanges(scanner.starts.length);
        if (bytesRead === 0) scanner.finish(buf, 0, filled);
        else scanner.scan(buf, 0, filled);
        status.bytesRead = source.position;
        const emitted = await this.#emit(chunk, bufOffset, scanner, headers, file, onDelivered);
        // Puts that find room resolve as microtasks, which never let I/O in: yield once per
        // chunk so the sink's replies and HTTP requests are served while a file is read.
        await new Promise<void>((resolve) => setImmediate(resolve));
        status.lines += emitted;
        this.#truncatedLines += scanner.truncated - status.truncatedLines;
        status.truncatedLines = scanner.truncated;
        if (file.problem) {
          status.bytesRead = file.size;
          return;
        }
        if (bytesRead === 0) return;
        carry = buf.subarray(scanner.rest, scanner.carryEnd);
      }
    } finally {
      // The reader's own hold; the batches' holds end as they are delivered.
      previous?.release();
    }
  }

  /**
   * Puts a chunk's lines into the channel in batches of `batchSize`, sharing its buffer;
   * returns how many were put (fewer when a line is not UTF-8 and the policy is FAIL).
   */
  async #emit(
    chunk: Chunk,
    dataOffset: number,
    scanner: LineScanner,
    baseHeaders: Record<string, string>,
    file: OpenFile,
    onDelivered: () => void,
  ): Promise<number> {
    let data: Buffer = chunk.buf;
    let { starts, ends, count } = scanner;
    const total = count;
    // Offsets (`next`) are taken from the scanner's ranges of the file's own bytes, before
    // the lines are re-encoded.
    const fileStarts = starts;
    if (this.#config.inputCharset === 'latin1') ({ data, starts, ends } = latin1ToUtf8(data, starts, ends, count));
    // One check of the whole chunk (~50 us a megabyte); lines are looked at one by one only
    // when it fails.
    else if (count > 0 && !isUtf8(data.subarray(starts[0]!, ends[count - 1]!))) {
      ({ data, starts, ends, count } = this.#decodeErrors(data, dataOffset, starts, ends, count, file));
    }
    // Re-encoded lines live in a buffer of their own; the chunk is reused only when its
    // batches hold its bytes.
    const shared = data.buffer === chunk.buf.buffer;
    const size = Math.min(this.#config.batchSize, this.#channel.transactionCapacity);
    for (let i = 0; i < count; i += size) {
      const n = Math.min(size, count - i);
      // Where the line after this batch starts: the offset a restart resumes from.
      const next = dataOffset + (i + n < total ? fileStarts[i + n]! : scanner.rest);
      const batch: EventBatch = {
        data,
        starts: starts.subarray(i, i + n),
        ends: ends.subarray(i, i + n),
        count: n,
        headers: this.#intercept(baseHeaders),
        firstHeaders: { [POSITION_HEADER]: encodePosition(file.key, next, n) },
        onDelivered,
        release: shared ? chunk.release : undefined,
      };
      if (shared) chunk.retain();
      file.outstanding++;
      this.#eventsRead += n;
      await this.#channel.put(batch);
    }
    return count;
  }

  /**
   * Flume's decodeErrorPolicy for lines that are not UTF-8: FAIL keeps the lines before the
   * first such line and ends the file there (it is renamed with failedSuffix once they are
   * counted); REPLACE puts U+FFFD for each bad sequence, IGNORE drops the bad bytes.
   */
  #decodeErrors(data: Buffer, dataOffset: number, starts: Int32Array, ends: Int32Array, count: number, file: OpenFile) {
    const policy = this.#config.decodeErrorPolicy;
    let firstBad = -1;
    for (let i = 0; i < count && firstBad < 0; i++) if (!isUtf8(data.subarray(starts[i]!, ends[i]!))) firstBad = i;
    if (firstBad < 0) return { data, starts, ends, count }; // the bad bytes were in a cut line's skipped part
    const status = file.status;
    const line = status.lines + firstBad + 1;
    const offset = dataOffset + starts[firstBad]!;
    if (policy === 'FAIL') {
      file.size = offset;
      file.problem = `line ${line} (byte ${offset}) is not valid UTF-8 (decodeErrorPolicy = FAIL); the ${line - 1} lines before it were read`;
      status.reason = file.problem;
      this.#log.error({ file: status.path, line, offset }, 'invalid UTF-8: the rest of the file is not read');
      return { data, starts, ends, count: firstBad };
    }
    if (file.decodeErrors === 0) this.#log.warn({ file: status.path, line, offset, decodeErrorPolicy: policy }, 'invalid UTF-8');
    const fix = policy === 'REPLACE' ? replaceInvalidUtf8 : dropInvalidUtf8;
    const parts: Buffer[] = [];
    const newStarts = new Int32Array(count);
    const newEnds = new Int32Array(count);
    let at = 0;
    for (let i = 0; i < count; i++) {
      let part = data.subarray(starts[i]!, ends[i]!);
      if (i >= firstBad && !isUtf8(part)) {
        part = fix(data, starts[i]!, ends[i]!);
        file.decodeErrors++;
      }
      parts.push(part);
      newStarts[i] = at;
      at += part.length;
      newEnds[i] = at;
    }
    status.reason = `${file.decodeErrors} lines with invalid UTF-8 (decodeErrorPolicy = ${policy})`;
    return { data: Buffer.concat(parts, at), starts: newStarts, ends: newEnds, count };
  }

  #baseHeaders(status: FileStatus): Record<string, string> {
    const c = this.#config;
    const headers: Record<string, string> = {};
    if (c.fileHeader) headers[c.fileHeaderKey] = status.path;
    if (c.basenameHeader) headers[c.basenameHeaderKey] = status.name;
    return headers;
  }

  /** Flume's interceptors, applied once per batch since they give every event the same value. */
  #intercept(base: Record<string, string>): Record<string, string> {
    if (this.#config.interceptors.length === 0) return base;
    const headers: Record<string, string> = { ...base };
    const now = String(Date.now());
    for (const i of this.#config.interceptors) {
      if (i.preserveExisting && headers[i.headerName] !== undefined) continue;
      headers[i.headerName] = i.type === 'timestamp' ? now : i.value!;
    }
    return headers;
  }

  /**
   * Checks the files read to their end: each is finished (renamed or deleted) once all of
   * its events are delivered or, when the job is in this process, durably counted.
   */
  async completeFinished(): Promise<void> {
    for (const file of [...this.#finishing]) await this.#maybeComplete(file);
  }

  async #maybeComplete(file: OpenFile): Promise<void> {
    if (!this.#finishing.has(file)) return;
    const done = this.#completeOn === 'delivered'
      ? file.outstanding === 0
      : (this.#positions!.committed(file.key) ?? 0) >= file.size;
    if (!done) return;
    this.#finishing.delete(file);
    const { status } = file;
    const c = this.#config;
    // 0, not unknown, for a clean file when the job counts in this process.
    status.parseErrors = this.#positions?.parseErrors ? (this.#positions.parseErrors(file.key) ?? 0) : undefined;
    await this.#warnIfMostlyUnparsed(file);
    if (file.problem) {
      await this.#quarantine(status, file.problem);
    } else {
      // Recorded before the rename, so the record of a counted file is never lost to a crash
      // (the status shows it completed only once it is renamed).
      this.#records?.save({ ...status, state: 'completed', finishedAt: Date.now() }, file.fingerprint);
      try {
        if (c.deletePolicy === 'immediate') await fsp.unlink(status.path);
        else await fsp.rename(status.path, await this.#finishedName(status, c.fileSuffix));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          // Removed while read: the open descriptor still read all of it.
          status.reason = 'removed from the spool directory while it was read; all of it was read';
          this.#log.warn({ file: status.path }, status.reason);
        } else {
          this.#fail(status, `all lines delivered, but finishing the file failed: ${(err as Error).message}`);
          return;
        }
      }
      this.#watcher?.forget(status.name);
      const recorded = status.reason;
      this.files.finish(status, 'completed', status.reason);
      if (status.reason !== recorded) this.#records?.save(status, file.fingerprint);
    }
    this.#log.info(
      {
        file: status.path,
        lines: status.lines,
        truncatedLines: status.truncatedLines,
        parseErrors: status.parseErrors,
        decodeErrors: file.decodeErrors || undefined,
        ms: Date.now() - status.startedAt!,
      },
      file.problem ? 'file ended early' : 'file completed',
    );
    this.#positions?.forget(file.key);
  }

  /**
   * `name + suffix`, or, when a file of the same name was finished before (Flume stops the
   * source there), `name.1 + suffix`, `name.2 + suffix`...: the new file is read all the
   * same, the old one is kept, and the log says so.
   */
  async #finishedName(status: FileStatus, suffix: string): Promise<string> {
    let target = status.path + suffix;
    for (let n = 1; await exists(target); n++) target = `${status.path}.${n}${suffix}`;
    if (target !== status.path + suffix) {
      this.#log.warn({ file: status.path, renamedTo: target }, `a file named ${status.name} was finished before; this one is renamed ${path.basename(target)}`);
    }
    return target;
  }

  /**
   * A file of which most lines did not parse is probably in another format than the job's:
   * a warning with the format and 3 of its lines, in the log and on the file (`/api/files`).
   */
  async #warnIfMostlyUnparsed(file: OpenFile): Promise<void> {
    const { status } = file;
    const check = this.#positions?.lineCheck;
    if (!check || !mostlyUnparsed(status.lines, status.parseErrors)) return;
    const samples = await unparsedSamples(status.path, status.name.endsWith('.gz'), check.parses, this.#config.maxLineLength);
    status.warning = `${status.parseErrors} of ${status.lines} lines did not parse as logFormat ${JSON.stringify(check.format)}: is it another format?`;
    this.#log.warn({ file: status.path, logFormat: check.format, lines: status.lines, parseErrors: status.parseErrors, samples }, 'most lines of the file did not parse: wrong logFormat?');
  }

  #fail(status: FileStatus, reason: string): void {
    this.files.finish(status, 'failed', reason);
    this.#records?.save(status);
    this.#log.error({ file: status.path, reason }, 'file failed');
  }

  /** A file that cannot be read is renamed with `failedSuffix`, so it is not tried again. */
  async #quarantine(status: FileStatus, reason: string): Promise<void> {
    try {
      const target = await this.#finishedName(status, this.#config.failedSuffix);
      await fsp.rename(status.path, target);
      this.#watcher?.forget(status.name);
      this.#fail(status, `${reason}; renamed ${path.basename(target)}`);
    } catch (err) {
      this.#fail(status, `${reason}; could not be renamed either (${(err as Error).message})`);
    }
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}
