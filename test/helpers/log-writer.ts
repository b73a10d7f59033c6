import { fork, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './daemon.js';

/**
 * A web server's log writer in its own process, told what to do over IPC: it appends lines
 * through a descriptor opened with O_APPEND (as nginx does), and rotates as logrotate does
 * (rename then reopen, copytruncate, gzip then delete). Line `i` of tag `t` asks for
 * `/<t>/<i % 97>`, so a test knows the counts of what it asked for without reading any log.
 *
 * `run` writes on its own: `rate` lines a second in ticks, a logrotate-style rotation every
 * `rotateEvery` lines (the file renamed `.1` after the previous `.1` is gzipped to
 * `.<n>.gz` and removed, a few lines more through the old descriptor, then reopened), and
 * tells the test of each rotation; it stops after `total` lines, or when told to (`stop`).
 */
const WRITER = String.raw`
const fs = require('node:fs');
const zlib = require('node:zlib');
let fd;
let file;
let stopping = false;
const line = (i, tag) => '10.0.0.' + (i % 250) + ' - - [10/Oct/2000:13:55:36 -0700] "GET /' + tag + '/' + (i % 97) + ' HTTP/1.1" 200 ' + i + '\n';
const write = (text) => { let b = Buffer.from(text); let at = 0; while (at < b.length) at += fs.writeSync(fd, b, at); };
const lines = (tag, from, n) => { let t = ''; for (let i = from; i < from + n; i++) t += line(i, tag); return t; };
const gzipTo = (from, to) => { fs.writeFileSync(to, zlib.gzipSync(fs.readFileSync(from))); fs.unlinkSync(from); };
const ops = {
  open: (c) => { file = c.file; fd = fs.openSync(file, 'a'); },
  write: (c) => write(c.text),
  lines: (c) => write(lines(c.tag, c.from, c.n)),
  rename: (c) => fs.renameSync(c.from, c.to),
  reopen: () => { fs.closeSync(fd); fd = fs.openSync(file, 'a'); },
  copytruncate: (c) => { fs.copyFileSync(c.file, c.to); fs.truncateSync(c.file, 0); },
  unlink: (c) => fs.unlinkSync(c.file),
  gzip: (c) => gzipTo(c.file, c.to),
  close: () => { fs.closeSync(fd); fd = undefined; },
  pause: (c) => new Promise((resolve) => setTimeout(resolve, c.ms)),
  stop: () => { stopping = true; },
  run: (c) => new Promise((resolve) => {
    let i = 0;
    let rotations = 0;
    const perTick = Math.max(1, Math.round(c.rate / 100));
    const tick = () => {
      if (stopping) { resolve({ written: i, rotations }); return; }
      const n = Math.min(perTick, c.total - i);
      write(lines(c.tag, i, n));
      i += n;
      if (i % c.rotateEvery < n && i < c.total) {
        rotations++;
        if (fs.existsSync(file + '.1')) gzipTo(file + '.1', file + '.' + rotations + '.gz');
        fs.renameSync(file, file + '.1');
        const late = Math.min(3, c.total - i);
        write(lines(c.tag, i, late));
        i += late;
        fs.closeSync(fd);
        fd = fs.openSync(file, 'a');
        process.send({ rotated: rotations, written: i });
      }
      if (i >= c.total) resolve({ written: i, rotations });
      else setTimeout(tick, 10);
    };
    tick();
  }),
};
process.on('message', async (c) => {
  try {
    const result = await ops[c.op](c);
    process.send({ id: c.id, ok: true, result });
  } catch (err) {
    process.send({ id: c.id, ok: false, error: String(err && err.stack || err) });
  }
});
`;

let script: string | undefined;

export interface Rotation {
  readonly rotated: number;
  readonly written: number;
}

export class LogWriter {
  readonly proc: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 0;
  onRotation: ((r: Rotation) => void) | undefined;

  constructor() {
    if (!script) {
      script = path.join(tempDir('logflow-writer-'), 'writer.cjs');
      writeFileSync(script, WRITER);
    }
    this.proc = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (m: { id?: number; ok?: boolean; result?: unknown; error?: string; rotated?: number; written?: number }) => {
      if (m.rotated !== undefined) {
        this.onRotation?.({ rotated: m.rotated, written: m.written! });
        return;
      }
      const p = this.#pending.get(m.id!);
      this.#pending.delete(m.id!);
      if (m.ok) p?.resolve(m.result);
      else p?.reject(new Error(m.error));
    });
  }

  do<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.proc.send({ ...args, op, id });
    });
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

/** What the daemon should count for lines `[from, from + n)` of `tag` (URL -> count). */
export function expectLines(into: Map<string, number>, tag: string, from: number, n: number): void {
  for (let i = from; i < from + n; i++) {
    const url = `/${tag}/${i % 97}`;
    into.set(url, (into.get(url) ?? 0) + 1);
  }
}
