import { constants as fsc, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Channel } from '../channel/index.js';
import type { Logger } from '../log.js';
import { ChunkPool } from './chunk-pool.js';
import { EventBatcher } from './event-batcher.js';
import { FileFinisher, RECORDS_RETRY_MS } from './file-finisher.js';
import { SOURCE_ID_FILE, sourceIdOf } from './file-key.js';
import { FileReader } from './file-reader.js';
import { RecordsUnwritable } from './file-records.js';
import { FileRegistry, type FileStatus } from './file-registry.js';
import { SourceStopped } from './open-file.js';
import type { SourcePositions } from './source-positions.js';
import type { SourceContext } from './source-context.js';
import { SpoolDiscovery } from './spool-discovery.js';
import type { SpoolDirSourceConfig } from './spooldir-config.js';
import { fileOpenDeferred, sourceIdNotKept, watchingSpoolDir } from '../telemetry/index.js';
import type { StatsPart } from '../telemetry/stats.js';
import { LogflowError } from '../errors.js';
import { settingError, storageHint } from '../startup-errors.js';

export { POSITION_HEADER } from '../channel/position-header.js';
export { DUPLICATE_SUFFIX } from './file-finisher.js';
export { olderFileKeyOf, sourceIdOf } from './file-key.js';
export type { SourcePositions } from './source-positions.js';

const CHUNK_BYTES = 1 << 20;
/** Open errors that say the process, not the file, is out of something: the file waits. */
const OUT_OF_DESCRIPTORS = new Set(['EMFILE', 'ENFILE']);
const RETRY_OPEN_MS = 1000;

/**
 * Flume's spooling-directory source: every line of every file dropped into `spoolDir`
 * becomes an event; a file is renamed with `fileSuffix` (or deleted) once all of its
 * events are delivered downstream. Files are read one at a time, in `consumeOrder`.
 *
 * This class only wires its parts and runs the read loop; a change goes to one of them:
 *   SpoolDiscovery  which files, when (watcher, settle checks, consumeOrder)
 *   FileReader      bytes to lines (plain, gzip, growing files), resume offsets
 *   EventBatcher    lines to channel batches (headers, lf.pos), charset repair on the way
 *   FileFinisher    rename .COMPLETED/.FAILED/.DUPLICATE or delete, file records
 */
export class SpoolDirSource {
  readonly name: string;
  readonly files = new FileRegistry();
  readonly #config: SpoolDirSourceConfig;
  readonly #log: Logger;
  readonly #sourceId: string;
  readonly #positions: SourcePositions | undefined;
  readonly #discovery: SpoolDiscovery;
  readonly #batcher: EventBatcher;
  readonly #finisher: FileFinisher;
  readonly #reader: FileReader;
  #readerDone: Promise<void> = Promise.resolve();
  #stopping = false;

  /**
   * With `positions` (the job runs in this process), a file resumes from its committed
   * offset after a restart and is finished only once all of it is committed; without, a
   * file is finished when the sink has delivered all of its events (Flume's behaviour).
   */
  constructor(config: SpoolDirSourceConfig, channel: Channel, logger: Logger, positions?: SourcePositions) {
    this.name = config.name;
    this.#config = config;
    this.#log = logger.child({ source: config.name });
    const id = sourceIdOf(config.spoolDir, config.trackerDir, config.sourceId);
    this.#sourceId = id.id;
    if (!id.kept) sourceIdNotKept.emit(this.#log, { file: path.join(config.trackerDir, SOURCE_ID_FILE), sourceId: id.id });
    this.#positions = positions;
    this.#batcher = new EventBatcher(config, channel, this.#log);
    this.#finisher = new FileFinisher(config, this.files, this.#log, positions);
    this.#discovery = new SpoolDiscovery(config, this.files, this.#log, (rawPath, printable, reason) => {
      const status = this.files.get(printable) ?? this.files.add(printable, path.basename(printable), 0);
      this.#finisher.quarantineName(status, rawPath, reason);
    });
    this.#reader = new FileReader(config, {
      sourceId: this.#sourceId,
      files: this.files,
      // A chunk holds at least two maximal lines, so a cut line and the next fit in one.
      chunks: new ChunkPool(Math.max(CHUNK_BYTES, config.maxLineLength * 2 + 4096)),
      batcher: this.#batcher,
      finisher: this.#finisher,
      positions,
      stopping: () => this.#stopping,
      log: this.#log,
    });
  }

  /** Prefix of this source's file keys in position headers. */
  get sourceId(): string {
    return this.#sourceId;
  }

  /** Every file seen, newest last, with live parse errors for the ones being read. */
  fileList(): FileStatus[] {
    return this.files.list().map((f) =>
      f.state === 'reading' && f.key && this.#positions?.figures ? { ...f, parseErrors: this.#positions.figures(f.key)?.parseErrors ?? 0 } : f,
    );
  }

  get eventsRead(): number {
    return this.#batcher.eventsRead;
  }

  /** Lines cut at maxLineLength so far (their rest is dropped), for /metrics. */
  get truncatedLines(): number {
    return this.#reader.truncatedLines;
  }

  /** True while the spool watcher is paused for a burst of queued files (tests, diagnostics). */
  get watcherPaused(): boolean {
    return this.#discovery.paused;
  }

  /** Listings of the spool done so far (a test waits for one past a mark to know the source has looked). */
  get listings(): number {
    return this.#discovery.listings;
  }

  async start(): Promise<void> {
    await fsp.mkdir(this.#config.spoolDir, { recursive: true });
    await fsp.access(this.#config.spoolDir, fsc.R_OK | fsc.W_OK);
    const records = this.#finisher.openRecords();
    const finished = records.recent(10_000);
    this.files.restore(finished, records.counts());
    this.#finisher.forgetFinished(finished);
    await this.#discovery.start();
    this.#readerDone = this.#readLoop();
    watchingSpoolDir.emit(this.#log, { spoolDir: this.#config.spoolDir });
  }

  /** Stops taking new files and reading; what was read stays in the channel. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#discovery.close();
    await this.#readerDone;
  }

  /** After the last `completeFinished()`: the records of finished files are closed. */
  close(): void {
    this.#finisher.closeRecords();
  }

  /**
   * Checks the files read to their end: each is finished (renamed or deleted) once all of
   * its events are delivered or, when the job is in this process, durably counted.
   */
  async completeFinished(): Promise<void> {
    await this.#finisher.completeFinished();
  }

  /** One file at a time: a file stopped midway goes back to pending; one that fails to read is quarantined. */
  async #readLoop(): Promise<void> {
    for (let next = await this.#discovery.next(); next && !this.#stopping; next = await this.#discovery.next()) {
      const status = this.files.get(next.path) ?? this.files.add(next.path, next.name, next.size);
      try {
        await this.#reader.read(status);
      } catch (err) {
        if (err instanceof SourceStopped) status.state = 'pending';
        else if (status.state === 'pending' && OUT_OF_DESCRIPTORS.has((err as NodeJS.ErrnoException).code!)) {
          // Not the file's fault: every descriptor is taken (a flood of connections). Tried
          // again later, never quarantined for it.
          fileOpenDeferred.emit(this.#log, { file: status.path, err: (err as Error).message, retryInMs: RETRY_OPEN_MS });
          this.#discovery.retryLater(next, RETRY_OPEN_MS);
        } else if (err instanceof RecordsUnwritable) {
          // (Logged by the finisher.) Its record could not be written: the others are read
          // meanwhile, and this one again in a while.
          status.state = 'pending';
          this.#discovery.retryLater(next, RECORDS_RETRY_MS);
        } else await this.#finisher.quarantine(status, `read failed: ${(err as Error).message}`);
      }
    }
  }
}

/**
 * `type = spooldir` (components.ts). With a position keeper (the job in this process, or a
 * file channel), a file resumes after its kept position and finishes once all of it is
 * kept; without, once all of its events are delivered (Flume's behaviour).
 */
export function build(config: SpoolDirSourceConfig, ctx: SourceContext) {
  const keeper = ctx.positionKeeper(config.channel);
  const positions = keeper?.keepPositions(sourceIdOf(config.spoolDir, config.trackerDir, config.sourceId).id, () => void source.completeFinished());
  const source = new SpoolDirSource(config, ctx.channel(config.channel), ctx.logger, positions);
  return {
    name: config.name,
    start: () => source.start().catch((err: NodeJS.ErrnoException) => {
      // files.db, in trackerDir (the spool's .flumespool unless set): named, with what to do by its cause.
      if (err instanceof LogflowError && err.code === 'LF_DATABASE') {
        throw settingError(ctx.file, ctx.key, 'trackerDir', { message: err.message, cause: (err.cause as { code?: string } | undefined)?.code });
      }
      const what = err.code === 'ENOSPC' || err.code === 'EROFS' ? storageHint(err.code) : 'the daemon needs read and write access to the spool directory (it renames finished files there)';
      throw err.code ? settingError(ctx.file, ctx.key, 'spoolDir', { message: `${config.spoolDir}: ${err.code}: ${what}`, path: config.spoolDir }) : err;
    }),
    stop: () => source.stop(),
    /** Files read to their end finish on the job's last checkpoint (it stopped before). */
    close: async () => {
      await source.completeFinished();
      source.close();
    },
    stats: (): StatsPart => ({ files: source.files.counts(), eventsRead: source.eventsRead, truncatedLines: source.truncatedLines }),
    fileList: () => source.fileList(),
  };
}
