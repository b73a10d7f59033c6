import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tempDir } from './daemon.js';

/** Whether this process may mount a tmpfs (root in a container that allows it): the full-disk tests skip otherwise. */
export function canMountTmpfs(): boolean {
  const probe = tempDir('logflow-mount-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
