import { readFileSync } from 'node:fs';
import { writeFileAtomicAsync } from '../../durable/index.js';
import type { Logger } from '../../log.js';
import { tailPositionWriteFailed } from '../../telemetry/index.js';

/** One entry of Flume's TAILDIR position file. */
export interface PositionEntry {
  readonly inode: number;
  /** Byte offset of the first line not yet taken. */
  readonly pos: number;
  /** Absolute path the file had when the entry was written. */
  readonly file: string;
}

/** What reading the position file found. */
export type PositionFileRead =
  | { readonly kind: 'missing' }
  | { readonly kind: 'read'; readonly entries: readonly PositionEntry[] }
  | { readonly kind: 'unreadable'; readonly reason: string };

/**
 * Flume's position file, `[{"inode":2496001,"pos":1234,"file":"/var/log/nginx/access.log"}]`,
 * in the same shape, so that Flume and logflow can read each other's: a Flume agent replaced
 * by logflow resumes where Flume was. Here it is for that and for a look at where the
 * source is; what decides where a restarted source resumes is the job's checkpoint (the
 * positions committed with the counts), and this file only when the checkpoint has no
 * position for a file (see TaildirSource).
 *
 * Written whole and atomically (Flume truncates and rewrites it in place: a crash can
 * leave it empty).
 */
export function readPositionFile(file: string): PositionFileRead {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'unreadable', reason: `${code ?? 'error'}: ${(err as Error).message}` };
  }
  // Flume writes nothing at all when it follows no file.
  if (text.trim() === '') return { kind: 'read', entries: [] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { kind: 'unreadable', reason: `not JSON (${(err as Error).message})` };
  }
  if (!Array.isArray(json)) return { kind: 'unreadable', reason: 'not a JSON array' };
  const entries: PositionEntry[] = [];
  for (const [i, e] of json.entries()) {
    const { inode, pos, file: name } = (e ?? {}) as Record<string, unknown>;
    if (!Number.isSafeInteger(inode) || !Number.isSafeInteger(pos) || (pos as number) < 0 || typeof name !== 'string') {
      return { kind: 'unreadable', reason: `entry ${i} is not {"inode": integer, "pos": integer, "file": string}` };
    }
    entries.push({ inode: inode as number, pos: pos as number, file: name });
  }
  return { kind: 'read', entries };
}

/** Flume's format, byte for byte what its Gson writes: no spaces, keys in its order. */
export function renderPositionFile(entries: readonly PositionEntry[]): string {
  return JSON.stringify(entries.map((e) => ({ inode: e.inode, pos: e.pos, file: e.file })));
}

export async function writePositionFile(file: string, entries: readonly PositionEntry[]): Promise<void> {
  await writeFileAtomicAsync(file, renderPositionFile(entries));
}

/** Writes the position file whole, one write at a time; a write asked for meanwhile runs once after. */
export class PositionFileWriter {
  readonly #file: string;
  readonly #log: Logger;
  #writing: Promise<void> | undefined;
  #again = false;

  constructor(file: string, log: Logger) {
    this.#file = file;
    this.#log = log;
  }

  /** `entries` is asked when the write starts. A failure is logged (and retried at the next write). */
  write(entries: () => PositionEntry[]): Promise<void> {
    if (this.#writing) {
      this.#again = true;
      return this.#writing;
    }
    const run = async () => {
      do {
        this.#again = false;
        try {
          await writePositionFile(this.#file, entries());
        } catch (err) {
          tailPositionWriteFailed.emit(this.#log, { err, file: this.#file });
        }
      } while (this.#again);
    };
    this.#writing = run().finally(() => (this.#writing = undefined));
    return this.#writing;
  }
}
