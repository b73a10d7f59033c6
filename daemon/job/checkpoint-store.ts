import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { LogflowError } from '../errors.js';
import { writeFileDurably } from './durable-file.js';
import type { SlotCounts } from './sliding-window.js';

/** What must match between the checkpoint and the configuration for the state to mean anything. */
export interface CheckpointIdentity {
  readonly job: string;
  readonly type: string;
  readonly batchIntervalMs: number;
  readonly windowDurationMs: number;
}

export interface OpenSlotState {
  readonly slot: number;
  readonly events: number;
  readonly parseErrors: number;
  readonly counts: [string, number][];
}

/** The small part of the state, rewritten at every checkpoint. */
export interface Manifest {
  readonly identity: CheckpointIdentity;
  readonly seq: number;
  readonly writtenAt: number;
  readonly nextToClose: number;
  readonly lastSlot: number | undefined;
  readonly counters: { eventsIn: number; eventsCounted: number; parseErrors: number; duplicates: number };
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
  readonly slots: { slot: number; counts: SlotCounts; total: number }[];
}

const MANIFEST = 'manifest.json';

/**
 * The job's checkpoint under `checkpointDir`: `manifest.json` (positions, counters, open
 * slots; rewritten atomically each batch interval) and `slots/<k>.json` (a closed slot's
 * counts, written once when it closes, deleted when it leaves the window). The manifest
 * names each slot file with its SHA-1, so a torn or foreign file is detected.
 */
export class CheckpointStore {
  readonly dir: string;
  readonly #slotsDir: string;
  readonly #identity: CheckpointIdentity;
  #seq = 0;
  #written = new Set<number>();

  constructor(dir: string, identity: CheckpointIdentity) {
    this.dir = dir;
    this.#slotsDir = path.join(dir, 'slots');
    this.#identity = identity;
    mkdirSync(this.#slotsDir, { recursive: true });
  }

  /** The last committed state, or undefined when there is none; throws when it is unusable. */
  load(): LoadedCheckpoint | undefined {
    const file = path.join(this.dir, MANIFEST);
    if (!existsSync(file)) return undefined;
    const manifest = this.#readManifest(file);
    this.#checkIdentity(manifest.identity);
    const slots = manifest.slots.map(({ slot, total, sha1 }) => {
      const slotFile = path.join(this.#slotsDir, `${slot}.json`);
      let text: string;
      try {
        text = readFileSync(slotFile, 'utf8');
      } catch (err) {
        throw corrupt(`slot file ${slotFile} is missing (${(err as Error).message})`);
      }
      if (sha1Of(text) !== sha1) throw corrupt(`slot file ${slotFile} does not match its checksum`);
      this.#written.add(slot);
      return { slot, total, counts: new Map(JSON.parse(text) as [string, number][]) };
    });
    this.#seq = manifest.seq;
    return { manifest, slots };
  }

  /**
   * Writes a closed slot's counts once, as a JSON array of `[url, count]` built and hashed
   * piece by piece (a slot of a million URLs never becomes one giant string); returns
   * its checksum for the manifest.
   */
  writeSlot(slot: number, counts: Iterable<[string, number]>): string {
    const hash = createHash('sha1');
    const parts: string[] = [];
    let first = true;
    for (const entry of counts) {
      parts.push((first ? '[' : ',') + JSON.stringify(entry));
      first = false;
    }
    parts.push(first ? '[]' : ']');
    const pieces: Buffer[] = [];
    for (let i = 0; i < parts.length; i += 4096) {
      const piece = Buffer.from(parts.slice(i, i + 4096).join(''));
      hash.update(piece);
      pieces.push(piece);
    }
    writeFileDurably(path.join(this.#slotsDir, `${slot}.json`), pieces);
    this.#written.add(slot);
    return hash.digest('hex');
  }

  /** Commits a new state, then deletes slot files it no longer names. */
  commit(state: Omit<Manifest, 'identity' | 'seq' | 'writtenAt'>): Manifest {
    const manifest: Manifest = { identity: this.#identity, seq: ++this.#seq, writtenAt: Date.now(), ...state };
    const body = JSON.stringify(manifest);
    writeFileDurably(path.join(this.dir, MANIFEST), JSON.stringify({ sha1: sha1Of(body), manifest: body }));
    const live = new Set(state.slots.map((s) => s.slot));
    for (const slot of this.#written) {
      if (live.has(slot)) continue;
      try {
        unlinkSync(path.join(this.#slotsDir, `${slot}.json`));
      } catch {
        // already gone
      }
      this.#written.delete(slot);
    }
    return manifest;
  }

  /** Deletes every file of the checkpoint (`--reset-checkpoint`). */
  static reset(dir: string): void {
    for (const name of ['manifest.json', 'manifest.json.tmp', 'slots', 'wal']) {
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

function sha1Of(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}
