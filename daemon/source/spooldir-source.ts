import { constants as fsc, promises as fsp } from 'node:fs';
import type { Channel } from '../channel/index.js';
import type { Logger } from '../log.js';
import { ChunkPool } from './chunk-pool.js';
import { EventBatcher } from './event-batcher.js';
import { FileFinisher } from './file-finisher.js';
import { sourceIdOf } from './file-key.js';
import { FileReader } from './file-reader.js';
import { FileRegistry, type FileStatus } from './file-registry.js';
import { SourceStopped } from './open-file.js';
import type { SourcePositions } from './source-positions.js';
import { SpoolDiscovery } from './spool-discovery.js';
import type { SpoolDirSourceConfig } from './spooldir-config.js';
import { sourceIdNotKept, watchingSpoolDir } from '../telemetry/index.js';

export { POSITION_HEADER } from '../channel/position-header.js';
export { DUPLICATE_SUFFIX } from './file-finisher.js';
export { fileKeyOf, sourceIdOf } from './file-key.js';
export type { SourcePositions } from './source-positions.js';

const CHUNK_BYTES = 1 << 20;

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
    if (!id.kept) sourceIdNotKept.emit(this.#log, { trackerDir: config.trackerDir, sourceId: id.id });
    this.#positions = positions;
    this.#discovery = new SpoolDiscovery(config, this.files, this.#log);
    this.#batcher = new EventBatcher(config, channel, this.#log);
    this.#finisher = new FileFinisher(config, this.files, this.#log, positions);
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
      f.state === 'reading' && f.key && this.#positions?.parseErrors ? { ...f, parseErrors: this.#positions.parseErrors(f.key) ?? 0 } : f,
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

  async start(): Promise<void> {
    await fsp.mkdir(this.#config.spoolDir, { recursive: true });
    await fsp.access(this.#config.spoolDir, fsc.R_OK | fsc.W_OK);
    const records = this.#finisher.openRecords();
    this.files.restore(records.recent(10_000), records.counts());
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
        else await this.#finisher.quarantine(status, `read failed: ${(err as Error).message}`);
      }
    }
  }
}
