import { statSync } from 'node:fs';

/** How often a connection looks whether its file is still the one it opened. */
const LOOK_MS = 1000;

/**
 * Whether a database file is still the one a connection opened. An open SQLite connection
 * goes on reading and writing a file that was deleted (or replaced) under it, and nobody
 * would know until the restart, which opens an empty (or another) file: the history is
 * gone (issue 22 item 11). So the connection's owner asks, at most once a second (a stat,
 * microseconds): `same`, `gone` (no file at the path), or `replaced` (another file there).
 */
export class DatabaseFile {
  readonly path: string;
  #ino: number | undefined;
  #lookedAt = 0;

  constructor(path: string) {
    this.path = path;
    this.opened();
  }

  /** The connection (re)opened the file now at the path. */
  opened(): void {
    this.#ino = inodeOf(this.path);
    this.#lookedAt = Date.now();
  }

  /** `same` until a second has passed since the last look. */
  check(now = Date.now()): 'same' | 'gone' | 'replaced' {
    if (now - this.#lookedAt < LOOK_MS) return 'same';
    this.#lookedAt = now;
    const ino = inodeOf(this.path);
    if (ino === undefined) return 'gone';
    return ino === this.#ino ? 'same' : 'replaced';
  }
}

function inodeOf(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}
