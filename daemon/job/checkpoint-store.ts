import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { LogflowError } from '../errors.js';
import { writeFileAtomic } from '../durable/index.js';

/** What must match between the checkpoint and the configuration for the state to mean anything. */
export interface CheckpointIdentity {
  readonly job: string;
  readonly type: string;
  readonly batchIntervalMs: number;
  readonly windowDurationMs: number;
  readonly time: string;
}

export interface OpenSlotState {
  readonly slot: number;
  readonly events: number;
  readonly parseErrors: number;
  /** Its counts' file under `open/` and that file's SHA-1. */
  readonly file: string;
  readonly sha1: string;
}

/** An open batch as the job hands it to a checkpoint: its counts already encoded. */
export interface OpenSlotData {
  readonly slot: number;
  readonly events: number;
  readonly parseErrors: number;
  readonly data: Buffer;
}

/** The small part of the state, rewritten at every checkpoint. */
export interface Manifest {
  readonly identity: CheckpointIdentity;
  readonly seq: number;
  readonly writtenAt: number;
  /** Null in event time before the first event. */
  readonly nextToClose: number | null;
  readonly maxEventMs?: number | null;
  readonly pendingParseErrors?: number;
  readonly lastSlot: number | undefined;
  readonly counters: { eventsIn: number; eventsCounted: number; parseErrors: number; duplicates: number; late?: number };
  /** Counters as of the last slide written to the results database (before this checkpoint). */
  readonly visible: { eventsCounted: number; parseErrors: number };
  /** Source positions: file key -> offset of the first line not yet counted. */
  readonly positions: [string, number][];
  readonly fileParseErrors: [string, number][];
  /** Closed slots in the window: their counts live in their own files, written once. */
  readonly slots: { slot: number; total: number; sha1: string }[];
  readonly open: OpenSlotState[];
  /** Event ids seen, with the slot after which they may be forgotten. */
  readonly seenIds: [string, number][];
  /** Write-ahead-log segments from this one on are not in this state yet. */
  readonly walSeq: number;
}

export interface LoadedCheckpoint {
  readonly manifest: Manifest;
  readonly slots: { slot: number; data: Buffer; total: number }[];
  readonly open: (OpenSlotState & { data: Buffer })[];
}

const MANIFEST = 'manifest.json';

/**
 * The job's checkpoint under `checkpointDir`: `manifest.json` (positions, counters, the
 * list of batches; rewritten atomically each batch interval), `slots/<k>.bin` (a closed
 * batch's counts, written once when it closes, deleted when it leaves the window) and
 * `open/<seq>-<k>.bin` (the batches still open at checkpoint `seq`). The manifest names
 * each file with its SHA-1, so a torn or foreign file is detected.
 */
export class CheckpointStore {
  readonly dir: string;
  readonly #slotsDir: string;
  readonly #openDir: string;
  readonly #identity: CheckpointIdentity;
  #seq = 0;
  #written = new Set<number>();

  constructor(dir: string, identity: CheckpointIdentity) {
    this.dir = dir;
    this.#slotsDir = path.join(dir, 'slots');
    this.#openDir = path.join(dir, 'open');
    this.#identity = identity;
    mkdirSync(this.#slotsDir, { recursive: true });
    mkdirSync(this.#openDir, { recursive: true });
  }

  /** The last committed state, or undefined when there is none; throws when it is unusable. */
  load(): LoadedCheckpoint | undefined {
    const file = path.join(this.dir, MANIFEST);
    if (!existsSync(file)) return undefined;
    const manifest = this.#readManifest(file);
    this.#checkIdentity(manifest.identity);
    const slots = manifest.slots.map(({ slot, total, sha1 }) => {
      this.#written.add(slot);
      return { slot, total, data: this.#readChecked(path.join(this.#slotsDir, `${slot}.bin`), sha1) };
    });
    const open = manifest.open.map((o) => ({ ...o, data: this.#readChecked(path.join(this.#openDir, o.file), o.sha1) }));
    this.#seq = manifest.seq;
    return { manifest, slots, open };
  }

  /** Writes a closed slot's encoded counts once; returns its checksum for the manifest. */
  writeSlot(slot: number, data: Buffer): string {
    writeFileAtomic(path.join(this.#slotsDir, `${slot}.bin`), data);
    this.#written.add(slot);
    return sha1Of(data);
  }

  /**
   * Commits a new state: the open batches' files (named by the new sequence number, so the
   * previous manifest's stay intact until this one is in place), then the manifest; then
   * deletes the files no manifest names any more.
   */
  commit(state: Omit<Manifest, 'identity' | 'seq' | 'writtenAt' | 'open'> & { open: OpenSlotData[] }): Manifest {
    const seq = this.#seq + 1;
    const open = state.open.map(({ data, ...o }) => {
      const name = `${seq}-${o.slot}.bin`;
      writeFileAtomic(path.join(this.#openDir, name), data);
      return { ...o, file: name, sha1: sha1Of(data) };
    });
    const manifest: Manifest = { identity: this.#identity, seq, writtenAt: Date.now(), ...state, open };
    const body = JSON.stringify(manifest);
    writeFileAtomic(path.join(this.dir, MANIFEST), JSON.stringify({ sha1: sha1Of(body), manifest: body }));
    this.#seq = seq;
    const live = new Set(state.slots.map((s) => s.slot));
    for (const slot of this.#written) {
      if (live.has(slot)) continue;
      removeQuietly(path.join(this.#slotsDir, `${slot}.bin`));
      this.#written.delete(slot);
    }
    const liveOpen = new Set(open.map((o) => o.file));
    for (const name of readdirSync(this.#openDir)) if (!liveOpen.has(name)) removeQuietly(path.join(this.#openDir, name));
    return manifest;
  }

  #readChecked(file: string, sha1: string): Buffer {
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch (err) {
      throw corrupt(`${file} is missing (${(err as Error).message})`);
    }
    if (sha1Of(data) !== sha1) throw corrupt(`${file} does not match its checksum`);
    return data;
  }

  /** Deletes every file of the checkpoint (`--reset-checkpoint`). */
  static reset(dir: string): void {
    for (const name of ['manifest.json', 'manifest.json.tmp', 'slots', 'open', 'wal']) {
      rmSync(path.join(dir, name), { recursive: true, force: true });
    }
  }

  #readManifest(file: string): Manifest {
    let outer: { sha1?: unknown; manifest?: unknown };
    try {
      outer = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw corrupt(`${file} is not a checkpoint manifest (${(err as Error).message})`);
    }
    if (typeof outer?.manifest !== 'string' || outer.sha1 !== sha1Of(outer.manifest)) {
      throw corrupt(`${file} does not match its checksum`);
    }
    return JSON.parse(outer.manifest) as Manifest;
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

function corrupt(what: string): LogflowError {
  return new LogflowError(
    'LF_CHECKPOINT_CORRUPT',
    `the checkpoint is unusable: ${what}. Start with --reset-checkpoint to discard it ` +
      '(the window starts empty and files still in the spool are read from their beginning).',
  );
}

function sha1Of(data: string | Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}
