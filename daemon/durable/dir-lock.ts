import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LogflowError } from '../errors.js';

/**
 * A lock file with the owner's pid: a second daemon on the same directory refuses to
 * start; a lock left by a killed daemon (its pid is gone) is taken over.
 */
export class DirLock {
  readonly #file: string;

  private constructor(file: string) {
    this.#file = file;
  }

  static acquire(dir: string, what: string): DirLock {
    const file = path.join(dir, 'LOCK');
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
        return new DirLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
      if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
        throw new LogflowError('LF_LOCKED', `${what} ${dir} is in use by another logflow process (pid ${owner}, see ${file})`);
      }
      unlinkSync(file);
    }
    throw new LogflowError('LF_LOCKED', `could not lock ${dir}`);
  }

  release(): void {
    try {
      unlinkSync(this.#file);
    } catch {
      // already gone
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
