/**
 * `npm run bench -- --only start`: the daemon's start, as a user's `npm start` and every
 * test that runs it pay it. The bundled agent's shape (spooldir -> memory -> avro -> job,
 * HTTP) in a fresh directory, from the spawn to `http listening`, and the CPU its threads
 * (main, job, HTTP, V8's helpers) spent by then, read from /proc/PID/stat at that moment.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { startDaemon, writeConfig } from './daemon-process.js';
import type { Row } from './bench-tail.js';

/** utime + stime of the whole process (all its threads), in ms. */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function daemonStart(work: string, row: Row, smoke: boolean): Promise<void> {
  const starts = smoke ? 2 : 10;
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < starts; i++) {
    const dir = path.join(work, `start-${i}`);
    mkdirSync(dir);
    await writeConfig(dir);
    const t0 = performance.now();
    const d = await startDaemon(dir, undefined, 60_000);
    walls.push(performance.now() - t0);
    cpus.push(cpuMs(d.proc.pid!));
    await d.stop('SIGKILL');
  }
  row(`daemon start, spawn to 'http listening' (bundled agent's shape, empty spool): median of ${starts}`, 'informational', `${median(walls).toFixed(0)} ms`, true);
  row(`  CPU of the daemon's threads by then: median of ${starts}`, 'informational', `${median(cpus).toFixed(0)} ms`, true);
}
