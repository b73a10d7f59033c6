import { existsSync, renameSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../log.js';
import { FileRecords } from './file-records.js';
import type { FileRegistry, FileStatus } from './file-registry.js';
import { fullHash, type Fingerprint } from './fingerprint.js';
import { mostlyUnparsed, unparsedSamples } from './format-warning.js';
import type { OpenFile } from './open-file.js';
import type { SourcePositions } from './source-positions.js';
import type { SpoolDirSourceConfig } from './spooldir-config.js';
import { fileAlreadyCounted, fileCompleted, fileEndedEarly, fileFailed, fileMostlyUnparsed, fileRemovedWhileRead, fileRenamedOnFinish } from '../telemetry/index.js';

/** A file whose content was counted before is renamed with this suffix (`fileIdentity = content`). */
export const DUPLICATE_SUFFIX = '.DUPLICATE';

export type FinisherConfig = Pick<
  SpoolDirSourceConfig,
  'fileSuffix' | 'failedSuffix' | 'deletePolicy' | 'trackerDir' | 'retentionMs' | 'maxLineLength'
>;

/**
 * The last steps of a file: once all of its events are delivered (or, with the job in this
 * process, durably counted) it is recorded in `trackerDir/files.db` and renamed with
 * `fileSuffix` (or deleted); one that failed is renamed with `failedSuffix`; one whose
 * content was counted before is renamed `.DUPLICATE`. The record is always written before
 * the rename, so a crash between the two never loses what was counted.
 *
 * Renames, unlinks and existence checks are synchronous (microseconds each): through the
 * thread pool they waited behind chokidar's lstat of every spool entry (see file-reader.ts).
 */
export class FileFinisher {
  readonly #config: FinisherConfig;
  readonly #files: FileRegistry;
  readonly #positions: SourcePositions | undefined;
  readonly #log: Logger;
  readonly #completeOn: 'delivered' | 'committed';
  /** Files read to their end, waiting to be delivered or committed before they are finished. */
  readonly #finishing = new Set<OpenFile>();
  #records: FileRecords | undefined;

  constructor(config: FinisherConfig, files: FileRegistry, log: Logger, positions: SourcePositions | undefined) {
    this.#config = config;
    this.#files = files;
    this.#log = log;
    this.#positions = positions;
    this.#completeOn = positions ? 'committed' : 'delivered';
  }

  /** Opens the records of finished files; returned so the registry can list what finished before a restart. */
  openRecords(): FileRecords {
    this.#records = new FileRecords(this.#config.trackerDir, this.#config.retentionMs);
    return this.#records;
  }

  closeRecords(): void {
    this.#records?.close();
    this.#records = undefined;
  }

  /** Records are open: fingerprints can be looked up and kept (`fileIdentity = content`). */
  get recording(): boolean {
    return this.#records !== undefined;
  }

  /** What a batch calls when it is delivered downstream: the file may be finished then. */
  onDeliveredOf(file: OpenFile): () => void {
    return () => {
      file.outstanding--;
      if (file.readDone && this.#completeOn === 'delivered') void this.maybeComplete(file);
    };
  }

  /** The file was read to its end: it is finished as soon as its events are delivered or committed. */
  async readToEnd(file: OpenFile): Promise<void> {
    this.#finishing.add(file);
    await this.maybeComplete(file);
  }

  /** Finishes every file read to its end whose events are now all delivered or committed. */
  async completeFinished(): Promise<void> {
    for (const file of [...this.#finishing]) await this.maybeComplete(file);
  }

  async maybeComplete(file: OpenFile): Promise<void> {
    if (!this.#finishing.has(file)) return;
    const done = this.#completeOn === 'delivered'
      ? file.outstanding === 0
      : (this.#positions!.committed(file.key) ?? 0) >= file.size;
    if (!done) return;
    this.#finishing.delete(file);
    const { status } = file;
    const c = this.#config;
    // 0, not unknown, for a clean file when the job counts in this process.
    const figures = this.#positions?.figures ? (this.#positions.figures(file.key) ?? { parseErrors: 0, historyOnly: 0 }) : undefined;
    status.parseErrors = figures?.parseErrors;
    if (figures && figures.historyOnly > 0) status.note = historyOnlyNote(figures.historyOnly);
    await this.#warnIfMostlyUnparsed(file);
    if (file.problem) {
      await this.quarantine(status, file.problem);
    } else {
      // Recorded before the rename, so the record of a counted file is never lost to a crash
      // (the status shows it completed only once it is renamed).
      this.#records?.save({ ...status, state: 'completed', finishedAt: Date.now() }, file.fingerprint);
      try {
        if (c.deletePolicy === 'immediate') unlinkSync(status.path);
        else renameSync(status.path, this.#finishedName(status, c.fileSuffix));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          // Removed while read: the open descriptor still read all of it.
          status.reason = 'removed from the spool directory while it was read; all of it was read';
          fileRemovedWhileRead.emit(this.#log, { file: status.path });
        } else {
          this.fail(status, `all lines delivered, but finishing the file failed: ${(err as Error).message}`);
          return;
        }
      }
      const recorded = status.reason;
      this.#files.finish(status, 'completed', status.reason);
      if (status.reason !== recorded) this.#records?.save(status, file.fingerprint);
    }
    (file.problem ? fileEndedEarly : fileCompleted).emit(this.#log, {
      file: status.path,
      lines: status.lines,
      truncatedLines: status.truncatedLines,
      parseErrors: status.parseErrors,
      decodeErrors: file.decodeErrors || undefined,
      ms: Date.now() - status.startedAt!,
    });
    this.#positions?.forget(file.key);
  }

  /**
   * The first completed file with the same content, if any (not this very file: one
   * recorded just before a crash, before its rename, is read again, not a duplicate).
   */
  async originalOf(fd: number, fingerprint: Fingerprint, key: string): Promise<{ name: string } | undefined> {
    const candidates = this.#records!.candidates(fingerprint).filter((c) => c.key !== key);
    if (candidates.length === 0) return undefined;
    fingerprint.full ??= await fullHash(fd, fingerprint.size);
    return candidates.find((c) => c.fullHash === fingerprint.full);
  }

  /** A file counted before under another name (or dropped twice): recorded, renamed `.DUPLICATE` (or deleted), not read. */
  async duplicate(status: FileStatus, key: string, size: number, original: { name: string }): Promise<void> {
    const reason = `same content as ${original.name}, which was counted; not counted again`;
    Object.assign(status, { key, size, duplicateOf: original.name });
    // Before the rename: a crash in between finds it a duplicate again.
    this.#records!.save({ ...status, state: 'duplicate', finishedAt: Date.now(), reason });
    const immediate = this.#config.deletePolicy === 'immediate';
    const target = immediate ? undefined : this.#finishedName(status, DUPLICATE_SUFFIX);
    try {
      if (target) renameSync(status.path, target);
      else unlinkSync(status.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.#files.finish(status, 'duplicate', target ? `${reason}; renamed ${path.basename(target)}` : `${reason}; deleted`);
    this.#records!.save(status);
    fileAlreadyCounted.emit(this.#log, { file: status.path, duplicateOf: original.name, renamedTo: target });
  }

  /** Marks the file failed, records it and says why; the file itself is left where it is. */
  fail(status: FileStatus, reason: string): void {
    this.#files.finish(status, 'failed', reason);
    this.#records?.save(status);
    fileFailed.emit(this.#log, { file: status.path, reason });
  }

  /** A file that cannot be read is renamed with `failedSuffix`, so it is not tried again. */
  async quarantine(status: FileStatus, reason: string): Promise<void> {
    try {
      const target = this.#finishedName(status, this.#config.failedSuffix);
      renameSync(status.path, target);
      this.fail(status, `${reason}; renamed ${path.basename(target)}`);
    } catch (err) {
      this.fail(status, `${reason}; could not be renamed either (${(err as Error).message})`);
    }
  }

  /**
   * `name + suffix`, or, when a file of the same name was finished before (Flume stops the
   * source there), `name.1 + suffix`, `name.2 + suffix`...: the new file is read all the
   * same, the old one is kept, and the log says so.
   */
  #finishedName(status: FileStatus, suffix: string): string {
    let target = status.path + suffix;
    for (let n = 1; existsSync(target); n++) target = `${status.path}.${n}${suffix}`;
    if (target !== status.path + suffix) {
      fileRenamedOnFinish.emit(this.#log, { file: status.path, renamedTo: target });
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
    fileMostlyUnparsed.emit(this.#log, { file: status.path, logFormat: check.format, lines: status.lines, parseErrors: status.parseErrors, samples });
  }
}

/** The note on a file some of whose lines were older than the live window (`/api/files`, `logflow drop`). */
export function historyOnlyNote(lines: number): string {
  return `${lines.toLocaleString('en-US')} lines older than the live window: counted in history only`;
}
