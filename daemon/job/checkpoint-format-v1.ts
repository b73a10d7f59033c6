import path from 'node:path';
import { readChecked } from './checkpoint-files.js';
import type { LoadedCheckpoint, ManifestState } from './checkpoint-manifest.js';

/** Format 1's manifest (the first format): a file per closed slot and per open batch. */
interface ManifestV1 extends ManifestState {
  readonly seq: number;
  readonly writtenAt: number;
  readonly slots: { slot: number; total: number; sha1: string }[];
  readonly open: { slot: number; events: number; parseErrors: number; file: string; sha1: string }[];
}

/**
 * Reads a format-1 checkpoint: `slots/<k>.bin` per closed slot and `open/<seq>-<k>.bin` per
 * open batch, each checked against its SHA-1 in the manifest. The counts' encoding is the
 * same in both formats; the next commit writes them as format 2 and deletes these files.
 */
export function loadFormat1(dir: string, raw: Record<string, unknown>): Omit<LoadedCheckpoint, 'migratedFrom'> {
  const m = raw as unknown as ManifestV1;
  return {
    manifest: m,
    slots: m.slots.map(({ slot, total, sha1 }) => ({ slot, total, data: readChecked(path.join(dir, 'slots', `${slot}.bin`), sha1), ref: undefined })),
    open: m.open.map(({ slot, events, parseErrors, file, sha1 }) => ({ slot, events, parseErrors, data: readChecked(path.join(dir, 'open', file), sha1), ref: undefined })),
  };
}
