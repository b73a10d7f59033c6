import { closeSync, existsSync, fstatSync, openSync, renameSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { crashPoint } from '../durable/index.js';
import type { Logger } from '../log.js';
import { FileRecords, RecordsUnwritable } from './file-records.js';
import { LateWriteWatch, type LateWriteTarget } from './late-writes.js';
import type { FileRegistry, FileStatus } from './file-registry.js';
import { fullHash, type Fingerprint } from './fingerprint.js';
import { mostlyUnparsed, unparsedSamples } from './format-warning.js';
import type { OpenFile } from './open-file.js';
import type { SourcePositions } from './source-positions.js';
import type { SpoolDirSourceConfig } from './spooldir-config.js';
import { fileAlreadyCounted, fileCompleted, fileEndedEarly, fileFailed, fileMostlyUnparsed, fileFinishFailed, fileFinishingWorksAgain, fileRemovedWhileRead, fileRenamedOnFinish } from '../telemetry/index.js';

/** A file whose content was counted before is renamed with this suffix (`fileIdentity = content`). */
export const DUPLICATE_SUFFIX = '.DUPLICATE';

/** How soon a write to the records that failed (a full spool file system) is tried again. */
export const RECORDS_RETRY_MS = 1000;

export type FinisherConfig = Pick<
  SpoolDirSourceConfig,
  'fileSuffix' | 'failedSuffix' | 'deletePolicy' | 'trackerDir' | 'retentionMs' | 'maxLineLength' | 'pollDelay'
>;

/**
 * The last steps of a file: once all of its events are delivered (or, with the job in this
 * process, durably counted) it is recorded in `trackerDir/files.db` and renamed with
 * `fileSuffix` (or deleted); one that failed is renamed with `failedSuffix`; one whose
 * content was counted before is renamed `.DUPLICATE`. The record is always written before
 * the rename, so a crash between the two never loses what was counted. A record that cannot
 * be written, or a rename that fails (the spool's file system full or read-only, no access),
 * holds the file back: it stays counted under its name, and it is tried again every second
 * (logged once per outage).
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
  /** Files finished while recent: a writer that goes on is reported (late-writes.ts). */
  readonly #lateWrites: LateWriteWatch;
  #records: FileRecords | undefined;
  /** Records of files finished already (renamed) whose write failed: written at the next retry. */
  readonly #unwritten = new Map<FileStatus, Fingerprint | undefined>();
  #retry: NodeJS.Timeout | undefined;
  /** Finishing steps (record, rename) that failed in a row: logged once, then when they work again. */
  #finishFailures = 0;

  constructor(config: FinisherConfig, files: FileRegistry, log: Logger, positions: SourcePositions | undefined) {
    this.#config = config;
    this.#files = files;
    this.#log = log;
    this.#positions = positions;
    this.#completeOn = positions ? 'committed' : 'delivered';
    this.#lateWrites = new LateWriteWatch(Math.max(config.pollDelay, 500), log);
  }

  /** Opens the records of finished files; returned so the registry can list what finished before a restart. */
  openRecords(): FileRecords {
    this.#records = new FileRecords(this.#config.trackerDir, this.#config.retentionMs);
    return this.#records;
  }

  closeRecords(): void {
    this.#lateWrites.close();
    clearTimeout(this.#retry);
    this.#retry = undefined;
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
    const done = this.#completeOn === 'delivered' ? file.outstanding === 0 : this.#committed(file) >= file.size;
    if (!done) return;
    this.#finishing.delete(file);
    const { status } = file;
    const c = this.#config;
    // 0, not unknown, for a clean file when the job counts in this process.
    const figures = this.#positions?.figures ? this.#figures(file) : undefined;
    status.parseErrors = figures?.parseErrors;
    if (figures && figures.historyOnly > 0) status.note = historyOnlyNote(figures.historyOnly);
    if (status.warning === undefined) await this.#warnIfMostlyUnparsed(file);
    if (file.problem) {
      await this.quarantine(status, file.problem);
    } else {
      // Recorded before the rename, so the record of a counted file is never lost to a crash
      // (the status shows it completed only once it is renamed). Not renamed without it.
      if (!this.#tryWrite(status, (r) => r.save({ ...status, state: 'completed', finishedAt: Date.now() }, file.fingerprint))) {
        this.#finishing.add(file);
        return;
      }
      crashPoint('finish.recorded');
      let late: LateWriteTarget | undefined;
      try {
        if (c.deletePolicy === 'immediate') {
          // A descriptor kept on it: a writer that goes on writes to the deleted file.
          late = lateWriteTarget(status.path, file.size, true);
          unlinkSync(status.path);
        } else {
          const target = this.#finishedName(status, c.fileSuffix);
          renameSync(status.path, target);
          late = lateWriteTarget(target, file.size, false);
        }
        crashPoint('finish.renamed');
      } catch (err) {
        if (late?.fd !== undefined) closeSync(late.fd);
        late = undefined;
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          // Removed while read: the open descriptor still read all of it.
          status.reason = 'removed from the spool directory while it was read; all of it was read';
          fileRemovedWhileRead.emit(this.#log, { file: status.path });
        } else {
          // A read-only spool, no write access: counted and recorded, it waits under its name.
          this.#finishFailed(status, err, 'rename');
          this.#scheduleRetry();
          this.#finishing.add(file);
          return;
        }
      }
      this.#finishWorked();
      const recorded = status.reason;
      this.#files.finish(status, 'completed', status.reason);
      if (status.reason !== recorded) this.#writeLater(status, file.fingerprint);
      if (late && !status.name.endsWith('.gz')) this.#lateWrites.watch(status, late, () => this.#writeLater(status, file.fingerprint));
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
    if (file.olderKey !== undefined) this.#positions?.forget(file.olderKey);
  }

  /**
   * Positions that a checkpoint still holds for files finished before the restart (a crash
   * after the rename, before the checkpoint that dropped the position): forgotten now. A
   * position must not outlive its file: a later file with the same inode and first line
   * (file-identity.ts) would resume there, and the checkpoint would keep it for ever.
   * A file still under its name was recorded just before a crash: its position finishes it.
   */
  forgetFinished(finished: readonly FileStatus[]): void {
    const positions = this.#positions;
    if (!positions) return;
    for (const f of finished) {
      if (f.key !== undefined && positions.committed(f.key) !== undefined && !existsSync(f.path)) positions.forget(f.key);
    }
  }

  /** Offset below which the file is durably counted (under its key, or the older key it resumed from). */
  #committed(file: OpenFile): number {
    const p = this.#positions!;
    return Math.max(p.committed(file.key) ?? 0, file.olderKey === undefined ? 0 : (p.committed(file.olderKey) ?? 0));
  }

  /** The job's figures of the file, under its key and the older key it resumed from. */
  #figures(file: OpenFile): { parseErrors: number; historyOnly: number } {
    const of = (key: string | undefined) => (key === undefined ? undefined : this.#positions!.figures!(key));
    const a = of(file.key);
    const b = of(file.olderKey);
    return { parseErrors: (a?.parseErrors ?? 0) + (b?.parseErrors ?? 0), historyOnly: (a?.historyOnly ?? 0) + (b?.historyOnly ?? 0) };
  }

  /**
   * The file about to be read has key `key`. A record under that key is this file's when its
   * position is held (`counting`: it was recorded just before a crash, before its rename);
   * otherwise it is an earlier file's that had the same inode and first line (deleted, its
   * inode reused): that record keeps its fingerprint under a key of its own, so the new file
   * neither overwrites it nor is taken for the same file.
   */
  claimKey(status: FileStatus, key: string, counting: boolean): void {
    if (!this.#records || counting) return;
    let retired: boolean;
    try {
      retired = this.#records.retire(key);
    } catch (err) {
      // (A success says nothing: an update of no row writes nothing, on a full disk too.)
      if (err instanceof RecordsUnwritable) this.#finishFailed(status, err, 'record');
      throw err;
    }
    if (retired) this.#files.unrestore(key);
  }

  /**
   * A write to the records (throws RecordsUnwritable; the reader's caller retries the file).
   * A failure is logged once per outage, and that writes work again once they do.
   */
  #write(status: FileStatus, write: (records: FileRecords) => void): void {
    if (!this.#records) return;
    try {
      write(this.#records);
    } catch (err) {
      if (err instanceof RecordsUnwritable) this.#finishFailed(status, err, 'record');
      throw err;
    }
    this.#finishWorked();
  }

  /** Logged once per outage (then at debug), with the step that failed. */
  #finishFailed(status: FileStatus, err: unknown, step: 'record' | 'rename'): void {
    const fields = { err, file: status.path, step };
    if (this.#finishFailures++ === 0) fileFinishFailed.emit(this.#log, fields);
    else fileFinishFailed.emitAt(this.#log, 'debug', fields);
  }

  #finishWorked(): void {
    if (this.#finishFailures === 0) return;
    fileFinishingWorksAgain.emit(this.#log, { failedAttempts: this.#finishFailures });
    this.#finishFailures = 0;
  }

  #scheduleRetry(): void {
    this.#retry ??= setTimeout(() => void this.#retryNow(), RECORDS_RETRY_MS).unref();
  }

  /** `#write`, false when it failed: a retry is scheduled (the files waiting to finish, the records waiting to be written). */
  #tryWrite(status: FileStatus, write: (records: FileRecords) => void): boolean {
    try {
      this.#write(status, write);
      return true;
    } catch (err) {
      if (!(err instanceof RecordsUnwritable)) throw err;
      this.#scheduleRetry();
      return false;
    }
  }

  /** The record of a file finished already (renamed): written now, or at the next retry. */
  #writeLater(status: FileStatus, fingerprint?: Fingerprint): void {
    if (!this.#tryWrite(status, (r) => r.save(status, fingerprint))) this.#unwritten.set(status, fingerprint);
  }

  async #retryNow(): Promise<void> {
    this.#retry = undefined;
    for (const [status, fingerprint] of [...this.#unwritten]) {
      if (!this.#tryWrite(status, (r) => r.save(status, fingerprint))) return;
      this.#unwritten.delete(status);
    }
    await this.completeFinished();
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
    // Before the rename: a crash in between finds it a duplicate again. (Throws RecordsUnwritable.)
    this.#write(status, (r) => r.save({ ...status, state: 'duplicate', finishedAt: Date.now(), reason }));
    crashPoint('duplicate.recorded');
    const immediate = this.#config.deletePolicy === 'immediate';
    const target = immediate ? undefined : this.#finishedName(status, DUPLICATE_SUFFIX);
    try {
      if (target) renameSync(status.path, target);
      else unlinkSync(status.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.#files.finish(status, 'duplicate', target ? `${reason}; renamed ${path.basename(target)}` : `${reason}; deleted`);
    this.#writeLater(status);
    fileAlreadyCounted.emit(this.#log, { file: status.path, duplicateOf: original.name, renamedTo: target });
  }

  /** Marks the file failed, records it and says why; the file itself is left where it is. */
  fail(status: FileStatus, reason: string): void {
    this.#files.finish(status, 'failed', reason);
    this.#writeLater(status);
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
   * A name the pipeline cannot carry (odd-names.ts): listed failed and renamed with
   * `failedSuffix`, the name's own bytes kept, so it is reported once and not tried again.
   */
  quarantineName(status: FileStatus, rawPath: Buffer, reason: string): void {
    const suffix = Buffer.from(this.#config.failedSuffix);
    let target = Buffer.concat([rawPath, suffix]);
    for (let n = 1; existsSync(target); n++) target = Buffer.concat([rawPath, Buffer.from(`.${n}`), suffix]);
    try {
      renameSync(rawPath, target);
      this.fail(status, `${reason}; renamed ${status.name}${target.subarray(rawPath.length).toString()}`);
    } catch (err) {
      this.fail(status, `${reason}; could not be renamed either (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
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
    const samples = await unparsedSamples(status.path, status.opened, status.name.endsWith('.gz'), check.parses, this.#config.maxLineLength);
    status.warning = `${status.parseErrors} of ${status.lines} lines did not parse as logFormat ${JSON.stringify(check.format)}: is it another format?`;
    fileMostlyUnparsed.emit(this.#log, { file: status.path, logFormat: check.format, lines: status.lines, parseErrors: status.parseErrors, samples });
  }
}

/** Where a file just finished is, to watch for a writer that goes on (its descriptor, when it is about to be deleted). */
function lateWriteTarget(p: string, bytesRead: number, keepOpen: boolean): LateWriteTarget | undefined {
  if (!Number.isFinite(bytesRead)) return undefined;
  if (!keepOpen) {
    try {
      const st = statSync(p);
      return { path: p, ino: st.ino, size: bytesRead, mtimeMs: st.mtimeMs };
    } catch {
      return undefined; // gone right after its rename: nothing to watch
    }
  }
  const fd = openSync(p, 'r');
  const st = fstatSync(fd);
  return { fd, ino: st.ino, size: bytesRead, mtimeMs: st.mtimeMs };
}

/** The note on a file some of whose lines were older than the live window (`/api/files`, `logflow drop`). */
export function historyOnlyNote(lines: number): string {
  return `${lines.toLocaleString('en-US')} lines older than the live window: counted in history only`;
}
