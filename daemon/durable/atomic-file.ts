import { closeSync, fsyncSync, openSync, promises as fsp, renameSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * Replaces `file` with `data` atomically and durably: write `<file>.tmp`, fsync it, rename
 * it over the old one, fsync the directory. A crash at any point leaves either the old
 * content or the new one, never a torn file.
 *
 * The same steps in two forms: the job's checkpoint writes from its own thread and may
 * block (`writeFileAtomic`); the file channel's checkpoint runs on the main thread, which
 * must keep reading files meanwhile (`writeFileAtomicAsync`).
 */
export function writeFileAtomic(file: string, data: string | Buffer | readonly Buffer[]): void {
  const tmp = tempName(file);
  const fd = openSync(tmp, 'w');
  try {
    for (const piece of pieces(data)) writeSync(fd, piece);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  syncDirectory(path.dirname(file));
}

export async function writeFileAtomicAsync(file: string, data: string | Buffer | readonly Buffer[]): Promise<void> {
  const tmp = tempName(file);
  const fh = await fsp.open(tmp, 'w');
  try {
    await fh.writev(pieces(data) as Buffer[]);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fsp.rename(tmp, file);
  await syncDirectoryAsync(path.dirname(file));
}

/** Makes a file created or renamed in `dir` survive a crash. */
export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function syncDirectoryAsync(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function tempName(file: string): string {
  return `${file}.tmp`;
}

function pieces(data: string | Buffer | readonly Buffer[]): readonly Buffer[] {
  return typeof data === 'string' ? [Buffer.from(data)] : Buffer.isBuffer(data) ? [data] : data;
}
