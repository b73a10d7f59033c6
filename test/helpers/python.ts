import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Debian's python3 with its python3-avro: the independent Avro implementation the interop tests talk to. */
export const PYTHON = '/usr/bin/python3';
/** test/python/avro_peer.py (from dist/test/helpers, back to the sources). */
export const PEER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/python/avro_peer.py');
const available = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import avro.ipc']).status === 0;
/** For `test(name, { skip: skipPython }, ...)`: false, or why the Python tests cannot run here. */
export const skipPython: false | string = available ? false : 'python3-avro is not installed (apt-get install python3-avro; .ci/run does)';

/** Runs python3 with `args` to its end (killed after 30 s); resolves with its status and output. */
export function runPython(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(PYTHON, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c));
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => child.on('exit', (status) => {
    clearTimeout(timer);
    resolve({ status, stdout, stderr });
  }));
}

export interface PythonPeer {
  readonly port: number;
  /** Resolves with the peer's exit status once it received all it was told to expect. */
  readonly exited: Promise<number | null>;
  /** What it printed so far: the `port N` line, then one JSON line per event received. */
  stdout(): string;
  stderr(): string;
}

/**
 * avro_peer.py serving (`serve COUNT [ARGS]`): an avro.ipc Responder that takes COUNT events
 * and exits. Resolves once it printed its port (on its output, not after a time).
 */
export function servePeer(count: number, ...args: string[]): Promise<PythonPeer> {
  const peer = spawn(PYTHON, [PEER, 'serve', String(count), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => peer.on('exit', resolve));
  return new Promise((resolve, reject) => {
    peer.stderr.on('data', (c: Buffer) => (err += c));
    peer.stdout.on('data', (c: Buffer) => {
      const portSeen = /^port \d+/.test(out);
      out += c;
      const port = /^port (\d+)/.exec(out)?.[1];
      if (!portSeen && port !== undefined) resolve({ port: Number(port), exited, stdout: () => out, stderr: () => err });
    });
    void exited.then((status) => reject(new Error(`the Python peer exited with ${status} before it listened: ${err}`)));
  });
}
