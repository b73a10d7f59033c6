import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { LogflowError } from '../errors.js';
import { checkpointCorrupt, readChecked, removeQuietly, sha1Of } from './checkpoint-files.js';
import { loadFormat1 } from './checkpoint-format-v1.js';
import { WriteAheadLog } from './write-ahead-log.js';
import { CHECKPOINT_FORMAT, CHECKPOINT_FORMATS, type CheckpointIdentity, type LoadedCheckpoint, type Manifest, type ManifestState, type SegmentRef, type BatchBytes, type ClosedSlotState, type OpenBatchState } from './checkpoint-manifest.js';
import { crashPoint, writeFileAtomic } from '../durable/index.js';


const MANIFEST = 'manifest.json';
const SEGMENTS = 'segments';

/**
 * The job's checkpoint under `checkpointDir`: `manifest.json` (positions, counters, where
 * each batch's counts are; rewritten atomically each batch interval) and `segments/<seq>.bin`,
 * the counts that checkpoint `seq` was first to hold, concatenated. A batch's counts are
 * written once while they do not change: a closed slot once, an open batch again only when
 * it has counted more. So a checkpoint costs what changed, not what is open: with 7,200 open
 * batches (`watermark = 7200`) the format-1 store wrote 7,200 files per checkpoint (1-12 s).
 * A segment is deleted once no manifest names it; each is checked against its SHA-1.
 */
export class CheckpointStore {
  readonly dir: string;
  readonly #segmentsDir: string;
  readonly #identity: CheckpointIdentity;
  #seq = 0;
  /** Segments on disk (live or not yet deleted). */
  readonly #segments = new Map<number, string>();

  constructor(dir: string, identity: CheckpointIdentity) {
    this.dir = dir;
    this.#segmentsDir = path.join(dir, SEGMENTS);
    this.#identity = identity;
    mkdirSync(this.#segmentsDir, { recursive: true });
  }

  /** The last committed state, or undefined when there is none; throws when it is unusable. */
  load(): LoadedCheckpoint | undefined {
    const file = path.join(this.dir, MANIFEST);
    if (!existsSync(file)) {
      this.#refuseIfLost(file);
      return undefined;
    }
    const raw = readManifest(file);
    const format = (raw as { format?: unknown }).format ?? 1;
    if (typeof format !== 'number' || !(CHECKPOINT_FORMATS as readonly number[]).includes(format)) {
      throw new LogflowError(
        'LF_CHECKPOINT_INCOMPATIBLE',
        `the checkpoint in ${this.dir} has format ${JSON.stringify(format)}, written by a newer logflow; this one reads ` +
          `formats ${CHECKPOINT_FORMATS[0]} to ${CHECKPOINT_FORMATS.at(-1)} (it writes ${CHECKPOINT_FORMAT}). Run the logflow that wrote it, ` +
          'or start once with --reset-checkpoint (the window starts empty and files still in the spool are read from their beginning).',
      );
    }
    this.#checkIdentity((raw as { identity: CheckpointIdentity }).identity);
    if (format === 1) {
      const old = loadFormat1(this.dir, raw);
      this.#seq = old.manifest.seq;
      return { ...old, migratedFrom: 1 };
    }
    const manifest = raw as unknown as Manifest;
    const data = new Map<number, Buffer>();
    for (const [seg, sha1] of manifest.segments) {
      data.set(seg, readChecked(this.#segmentFile(seg), sha1));
      this.#segments.set(seg, sha1);
    }
    const bytes = (seg: number, at: number, length: number) => data.get(seg)!.subarray(at, at + length);
    this.#seq = manifest.seq;
    // Segments of a checkpoint that crashed before its manifest was in place.
    this.#removeUnnamed();
    // Format-1 files a crash left behind right after the migration.
    for (const name of ['slots', 'open']) rmSync(path.join(this.dir, name), { recursive: true, force: true });
    return {
      manifest,
      slots: manifest.slots.map(([slot, total, seg, at, length]) => ({ slot: slot!, total: total!, data: bytes(seg!, at!, length!), ref: { seg: seg!, at: at!, length: length! } })),
      open: manifest.open.map(([slot, events, parseErrors, seg, at, length]) => ({
        slot: slot!, events: events!, parseErrors: parseErrors!, data: bytes(seg!, at!, length!), ref: { seg: seg!, at: at!, length: length! },
      })),
      migratedFrom: format < CHECKPOINT_FORMAT ? format : undefined,
    };
  }

  /**
   * Commits a new state: one segment with the counts not yet written (if any), then the
   * manifest; then deletes the segments no batch refers to any more. Returns the manifest
   * and where each batch's counts now are.
   */
  commit(
    state: ManifestState & { slots: (ClosedSlotState & BatchBytes)[]; open: (OpenBatchState & BatchBytes)[] },
  ): { manifest: Manifest; slotRefs: SegmentRef[]; openRefs: SegmentRef[] } {
    const seq = this.#seq + 1;
    const pieces: Buffer[] = [];
    let at = 0;
    const place = (b: BatchBytes): SegmentRef => {
      if ('ref' in b) return b.ref;
      pieces.push(b.data);
      at += b.data.length;
      return { seg: seq, at: at - b.data.length, length: b.data.length };
    };
    const slotRefs = state.slots.map(place);
    const openRefs = state.open.map(place);
    if (pieces.length > 0) {
      // One write: a piece per write was a system call per open batch (7,200 at watermark 7200).
      const segment = Buffer.concat(pieces, at);
      writeFileAtomic(this.#segmentFile(seq), segment);
      this.#segments.set(seq, sha1Of(segment));
    }
    const live = new Set([...slotRefs, ...openRefs].map((r) => r.seg));
    const manifest: Manifest = {
      format: CHECKPOINT_FORMAT,
      identity: this.#identity,
      seq,
      writtenAt: Date.now(),
      ...state,
      slots: state.slots.map((s, i) => [s.slot, s.total, slotRefs[i]!.seg, slotRefs[i]!.at, slotRefs[i]!.length]),
      open: state.open.map((o, i) => [o.slot, o.events, o.parseErrors, openRefs[i]!.seg, openRefs[i]!.at, openRefs[i]!.length]),
      segments: [...live].map((seg) => [seg, this.#segments.get(seg)!]),
    };
    const body = JSON.stringify(manifest);
    crashPoint('checkpoint.segment-written');
    writeFileAtomic(path.join(this.dir, MANIFEST), JSON.stringify({ sha1: sha1Of(body), manifest: body }));
    crashPoint('checkpoint.manifest-written');
    this.#seq = seq;
    for (const seg of this.#segments.keys()) {
      if (live.has(seg)) continue;
      removeQuietly(this.#segmentFile(seg));
      this.#segments.delete(seg);
    }
    // The first commit after a migration from format 1: its files are no longer named.
    for (const name of ['slots', 'open']) rmSync(path.join(this.dir, name), { recursive: true, force: true });
    if (seq === 1) this.#removeUnnamed();
    return { manifest, slotRefs, openRefs };
  }

  /** Deletes every file of the checkpoint (`--reset-checkpoint`). */
  static reset(dir: string): void {
    for (const name of [MANIFEST, `${MANIFEST}.tmp`, SEGMENTS, 'slots', 'open', 'wal']) {
      rmSync(path.join(dir, name), { recursive: true, force: true });
    }
  }

  /**
   * No manifest: a fresh directory, or one whose first checkpoint never got its manifest in
   * place (a crash); then starting empty loses nothing. But files that only a committed
   * checkpoint leaves mean its manifest was deleted or lost: starting empty would drop the
   * window and every position (files in the spool read again) and delete those files. They
   * are: a segment of checkpoint 2 or later (checkpoint n is written once n - 1 is
   * committed), and a write-ahead log whose first segment is gone (a committed checkpoint
   * deletes the segments before the one it names).
   */
  #refuseIfLost(file: string): void {
    const found = readdirSync(this.#segmentsDir).filter((n) => Number.parseInt(n, 10) >= 2).map((n) => path.join(this.#segmentsDir, n));
    const walDir = path.join(this.dir, 'wal');
    const wal = WriteAheadLog.segments(walDir);
    if (wal.length > 0 && wal[0]! > 0) found.push(WriteAheadLog.segmentPath(walDir, wal[0]!));
    if (found.length === 0) return;
    const shown = found.slice(0, 3).join(', ') + (found.length > 3 ? ` and ${found.length - 3} more` : '');
    throw checkpointCorrupt(
      `${file} is missing, but the directory holds files of a checkpoint that had one (${shown}): it was deleted or lost. ` +
        'Put it back (nothing was changed here)',
      ', and these files are deleted',
    );
  }

  /** Deletes the segments that no manifest loaded or written by this store names. */
  #removeUnnamed(): void {
    for (const name of readdirSync(this.#segmentsDir)) {
      const seg = Number.parseInt(name, 10);
      if (!this.#segments.has(seg)) removeQuietly(path.join(this.#segmentsDir, name));
    }
  }

  #segmentFile(seg: number): string {
    return path.join(this.#segmentsDir, `${seg}.bin`);
  }

  #checkIdentity(found: CheckpointIdentity): void {
    const want = this.#identity;
    const diffs = (Object.keys(want) as (keyof CheckpointIdentity)[])
      .filter((k) => found?.[k] !== want[k])
      .map((k) => `${k} ${JSON.stringify(found?.[k])} in the checkpoint, ${JSON.stringify(want[k])} configured`);
    if (diffs.length > 0) {
      throw new LogflowError(
        'LF_CHECKPOINT_INCOMPATIBLE',
        `the checkpoint in ${this.dir} was written by another job configuration (${diffs.join('; ')}). ` +
          'Restore the configuration, point checkpointDir elsewhere, or start once with --reset-checkpoint ' +
          '(the window starts empty and files still in the spool are read from their beginning).',
      );
    }
  }
}

/** The manifest's content, its envelope's checksum verified. */
function readManifest(file: string): Record<string, unknown> {
  let outer: { sha1?: unknown; manifest?: unknown };
  try {
    outer = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw checkpointCorrupt(`${file} is not a checkpoint manifest (${(err as Error).message})`);
  }
  if (typeof outer?.manifest !== 'string' || outer.sha1 !== sha1Of(outer.manifest)) {
    throw checkpointCorrupt(`${file} does not match its checksum`);
  }
  return JSON.parse(outer.manifest) as Record<string, unknown>;
}
