import { createHash } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { LogflowError } from '../errors.js';

/** A checkpoint file's content, checked against the SHA-1 its manifest names. */
export function readChecked(file: string, sha1: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(file);
  } catch (err) {
    throw checkpointCorrupt(`${file} is missing (${(err as Error).message})`);
  }
  if (sha1Of(data) !== sha1) throw checkpointCorrupt(`${file} does not match its checksum`);
  return data;
}

/** `also`: what else a reset loses, or another way out, said after the usual consequences. */
export function checkpointCorrupt(what: string, also = ''): LogflowError {
  return new LogflowError(
    'LF_CHECKPOINT_CORRUPT',
    `the checkpoint is unusable: ${what}. Start with --reset-checkpoint to discard it ` +
      `(the window starts empty and files still in the spool are read from their beginning${also}).`,
  );
}

export function sha1Of(data: string | Buffer | readonly Buffer[]): string {
  const hash = createHash('sha1');
  if (Array.isArray(data)) for (const piece of data) hash.update(piece);
  else hash.update(data as string | Buffer);
  return hash.digest('hex');
}

export function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}
