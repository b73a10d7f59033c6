import { closeSync, fstatSync, read, type Stats } from 'node:fs';
import { promisify } from 'node:util';
import type { Logger } from '../log.js';
import { GunzipSource, PlainSource, type ByteSource } from './byte-source.js';
import type { Chunk, ChunkPool } from './chunk-pool.js';
import type { EventBatcher } from './event-batcher.js';
import type { FileFinisher } from './file-finisher.js';
import { identityKey, identityOf, provisionalIdentityOf } from './file-identity.js';
import { olderFileKeyOf } from './file-key.js';
import type { FileRegistry, FileStatus } from './file-registry.js';
import { fullHash, headFingerprint, RunningHash, type Fingerprint } from './fingerprint.js';
import { GrowingFile } from './growing-file.js';
import { LineScanner } from './line-scanner.js';
import { SourceStopped, type OpenFile } from './open-file.js';
import type { SourcePositions } from './source-positions.js';
import { openSpoolFile, type SpoolOpen } from './spool-open.js';
import type { SpoolDirSourceConfig } from './spooldir-config.js';
import { fileChangedWhileRead, fileReadToEnd, fileRemovedBeforeRead, fileResumed, fileStarted, fileStillWritten } from '../telemetry/index.js';

export type ReaderConfig = Pick<SpoolDirSourceConfig, 'maxLineLength' | 'pollDelay' | 'fileIdentity' | 'followSymlinks' | 'symlinkRoots'>;

/** What the reader hands its lines to and asks about, set up once by the source. */
export interface ReaderParts {
  readonly sourceId: string;
  readonly files: FileRegistry;
  readonly chunks: ChunkPool;
  readonly batcher: EventBatcher;
  readonly finisher: FileFinisher;
  readonly positions: SourcePositions | undefined;
  /** Asked once per chunk and between looks at a growing file's end. */
  readonly stopping: () => boolean;
  readonly log: Logger;
}

/**
 * Reads one file at a time, from its committed offset (a restart resumes there) to its end:
 * chunks of up to `chunks.chunkBytes`, split into lines, handed to the batcher. A plain file
 * still being written is read on as it grows; a gzip file is decompressed as a stream.
 * Throws `SourceStopped` when the source stops in the middle of a file.
 *
 * Open, fstat and close are synchronous, as the reads are: each costs microseconds on a local
 * file system, while through the thread pool each waited behind chokidar's lstat of every
 * spool entry (it re-reads the directory after each rename): 10,000 small files took over
 * 120 s that way, and 8 s with these calls synchronous (own measurement, load 7).
 */
export class FileReader {
  readonly #config: ReaderConfig;
  readonly #p: ReaderParts;
  #truncatedLines = 0;

  constructor(config: ReaderConfig, parts: ReaderParts) {
    this.#config = config;
    this.#p = parts;
  }

  /** Lines cut at maxLineLength so far (their rest is dropped), for /metrics. */
  get truncatedLines(): number {
    return this.#truncatedLines;
  }

  /** Reads the file and hands it to the finisher (or finds it a duplicate, or not a file). */
  async read(status: FileStatus): Promise<void> {
    const { finisher, positions, log } = this.#p;
    const opened = this.#open(status);
    if (opened === undefined) return;
    if (opened.kind === 'refused') {
      // A link not followed, or one re-pointed while it was opened: never read, quarantined.
      await finisher.quarantine(status, opened.reason);
      return;
    }
    const { fd, stats: st } = opened;
    status.opened = opened.inode;
    let source: ByteSource | undefined;
    let hash: RunningHash | undefined;
    try {
      if (!st.isFile()) {
        finisher.fail(status, 'not a regular file (replaced after it was found); left alone');
        return;
      }
      const gzip = status.name.endsWith('.gz');
      const identity = identityOf(fd, st);
      const key = identityKey(this.#p.sourceId, identity ?? provisionalIdentityOf(fd, st));
      const resumeKey = this.#resumeKey(key, status.name, st);
      finisher.claimKey(status, key, positions?.committed(resumeKey) !== undefined);
      let fingerprint: Fingerprint | undefined;
      if (this.#config.fileIdentity === 'content' && finisher.recording) {
        fingerprint = headFingerprint(fd, st.size);
        const original = await finisher.originalOf(fd, fingerprint, key);
        if (original) {
          await finisher.duplicate(status, key, st.size, original);
          return;
        }
      }
      const file: OpenFile = {
        status,
        key,
        identified: identity !== undefined,
        olderKey: resumeKey === key ? undefined : resumeKey,
        // For gzip, the decompressed size is known once it is read to its end.
        size: gzip ? Infinity : st.size,
        outstanding: 0,
        readDone: false,
        problem: undefined,
        decodeErrors: 0,
        fingerprint: undefined,
      };
      status.key = file.key;
      const committed = positions?.committed(resumeKey) ?? 0;
      const resumeAt = gzip ? committed : Math.min(committed, st.size);
      status.state = 'reading';
      // Resumed after a restart: the figures are the whole file's, as the job counted them
      // up to where it resumes (and it was started then, not now).
      const counted = resumeAt > 0 ? positions?.figures?.(file.key) : undefined;
      status.startedAt = counted?.startedMs ?? Date.now();
      status.lines = counted?.lines ?? 0;
      status.size = st.size;
      status.bytesRead = resumeAt;
      (resumeAt > 0 ? fileResumed : fileStarted).emit(log, { file: status.path, key: file.key, bytes: status.size, resumeAt, gzip });
      if (gzip) {
        const gz = new GunzipSource(status.path, fd);
        source = gz;
        status.lines = await gz.discard(resumeAt);
      } else {
        // The whole file's hash as it is read, when it will be recorded and is not known yet.
        hash = fingerprint && fingerprint.full === undefined ? new RunningHash() : undefined;
        source = new PlainSource(fd, st.size, resumeAt, hash);
        // The lines counted before the restart, so the file's listing says how many it has.
        if (resumeAt > 0) status.lines = await lineFeedsBefore(fd, resumeAt);
      }
      const growing = gzip ? undefined : GrowingFile.open(fd, status.path, st, this.#config.pollDelay, fingerprint?.head);
      await this.#readLines(source, file, growing);
      if (gzip) {
        file.size = source.position;
        if (!file.problem) this.#checkUnchanged(fd, st, source, file);
      }
      if (fingerprint && !file.problem) {
        // The fingerprint of what was read (a file that grew has a new one).
        const size = gzip ? st.size : file.size;
        file.fingerprint = size === fingerprint.size ? fingerprint : headFingerprint(fd, size);
        file.fingerprint.full ??= hash?.digestOf(size) ?? (await fullHash(fd, size));
      }
      file.readDone = true;
      fileReadToEnd.emit(log, { file: status.path, readMs: Date.now() - status.startedAt! });
      await finisher.readToEnd(file);
    } finally {
      await source?.close();
      closeSync(fd);
    }
  }

  /**
   * The key the file's position is held under: its own, or, when that has none, the key an
   * older logflow gave it (its checkpoint, from before the upgrade, holds that one).
   */
  #resumeKey(key: string, name: string, st: Stats): string {
    const positions = this.#p.positions;
    if (!positions || positions.committed(key) !== undefined) return key;
    const older = olderFileKeyOf(this.#p.sourceId, name, st);
    return positions.committed(older) === undefined ? key : older;
  }

  /**
   * Opens under the symlink policy (spool-open.ts), without blocking: a FIFO put in the spool
   * would otherwise hold the open (and the source) until someone writes to it. A file gone
   * before it was read is forgotten quietly.
   */
  #open(status: FileStatus): SpoolOpen | undefined {
    try {
      return openSpoolFile(status.path, this.#config);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.#p.files.remove(status.path);
      fileRemovedBeforeRead.emit(this.#p.log, { file: status.path });
      return undefined;
    }
  }

  /**
   * At the end of a plain file: one still being written (it grows) is read on; one that
   * shrank or was replaced keeps what was read (counted) and ends as failed, with the reason.
   */
  async #atEnd(growing: GrowingFile, source: PlainSource, file: OpenFile): Promise<void> {
    const end = await growing.atEnd(file.size, source.position, this.#p.stopping);
    if (end.kind === 'stopped') throw new SourceStopped();
    if (end.kind === 'grew') {
      if (file.status.size !== end.size) fileStillWritten.emit(this.#p.log, { file: file.status.path, from: file.size, to: end.size });
      if (!file.identified) this.#identifyAgain(file, growing.fd, end.size);
      source.extend(end.size);
      file.size = end.size;
      file.status.size = end.size;
    } else if (end.kind === 'changed') {
      file.size = source.position;
      file.problem = end.problem;
      file.status.reason = end.problem;
      fileChangedWhileRead.emit(this.#p.log, { file: file.status.path, bytesRead: source.position, reason: end.problem });
    }
  }

  /**
   * A file opened before it had a whole first line is identified again as it grows. Nothing
   * of it was emitted under its first key (a line goes out once its line feed is read), so
   * the new key is the only one its positions will ever have.
   */
  #identifyAgain(file: OpenFile, fd: number, size: number): void {
    if (file.status.lines > 0 || file.outstanding > 0 || file.olderKey !== undefined || this.#p.positions?.committed(file.key) !== undefined) return;
    const st = fstatSync(fd);
    const identity = identityOf(fd, { dev: st.dev, ino: st.ino, size });
    if (!identity) return;
    file.identified = true;
    file.key = identityKey(this.#p.sourceId, identity);
    file.status.key = file.key;
  }

  /**
   * Flume wants a spooled file immutable. A gzip file that grew, shrank or was rewritten while
   * it was read keeps what was read (counted), and ends as failed with the reason.
   */
  #checkUnchanged(fd: number, before: Stats, source: ByteSource, file: OpenFile): void {
    const after = fstatSync(fd);
    if (after.size === before.size && after.mtimeMs === before.mtimeMs && (file.size === Infinity || source.position === file.size)) return;
    const what = after.size < before.size ? 'shrank' : after.size > before.size ? 'grew' : 'was rewritten';
    if (file.size !== Infinity) file.size = source.position;
    file.problem = `${what} while it was read (${before.size} -> ${after.size} bytes); its first ${source.position} bytes were read`;
    file.status.reason = file.problem;
    fileChangedWhileRead.emit(this.#p.log, { file: file.status.path, before: before.size, after: after.size, bytesRead: source.position });
  }

  /** The hot loop: one read, one scan and one `emit` per chunk, nothing per line. */
  async #readLines(source: ByteSource, file: OpenFile, growing: GrowingFile | undefined): Promise<void> {
    const { chunks, batcher, stopping } = this.#p;
    const chunkBytes = chunks.chunkBytes;
    const status = file.status;
    // Small files get small buffers: 10,000 one-line files spent a third of their time in GC
    // when each took a 1 MB chunk and 64 KB of line ranges.
    const expectedLines = Math.max(16, Math.min(8192, Math.ceil(source.remaining / 64)));
    const scanner = new LineScanner(this.#config.maxLineLength, expectedLines);
    const headers = batcher.baseHeaders(status);
    const onDelivered = this.#p.finisher.onDeliveredOf(file);
    let carry: Buffer = Buffer.alloc(0);
    let previous: Chunk | undefined;
    try {
      for (;;) {
        if (stopping()) throw new SourceStopped();
        if (growing && source.remaining === 0) await this.#atEnd(growing, source as PlainSource, file);
        const chunk = chunks.take(Math.min(chunkBytes, carry.length + source.remaining + 1));
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
        const emitted = await batcher.emit(chunk, bufOffset, scanner, headers, file, onDelivered);
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
}

const readAt = promisify(read);

/**
 * Line feeds in the file's first `end` bytes: the lines before a resume offset (always the
 * start of a line). Read in 1 MB steps off the event loop, ~1 GB/s from the page cache.
 */
async function lineFeedsBefore(fd: number, end: number): Promise<number> {
  const buf = Buffer.allocUnsafe(Math.min(end, 1 << 20));
  let lines = 0;
  for (let at = 0; at < end; ) {
    const { bytesRead } = await readAt(fd, buf, 0, Math.min(buf.length, end - at), at);
    if (bytesRead === 0) break;
    for (let i = buf.indexOf(10, 0); i !== -1 && i < bytesRead; i = buf.indexOf(10, i + 1)) lines++;
    at += bytesRead;
  }
  return lines;
}
