import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * Replaces `file` with `data` atomically and durably: write a temporary file, fsync it,
 * rename it over the old one, fsync the directory. A crash at any point leaves either
 * the old content or the new one, never a torn file.
 */
export function writeFileDurably(file: string, data: string | Buffer | readonly Buffer[]): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    const pieces = typeof data === 'string' ? [Buffer.from(data)] : Buffer.isBuffer(data) ? [data] : data;
    for (const piece of pieces) writeSync(fd, piece);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  syncDirectory(path.dirname(file));
}

export function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
