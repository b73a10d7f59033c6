import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mallocEnvironment } from '../../daemon/malloc-settings.js';

export const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../daemon/main.js');

const tempDirs: string[] = [];
/** Daemons started here and not yet exited: ended before their directories are removed. */
const running = new Set<ChildProcess>();

/**
 * A fresh directory under the system's temp dir, removed when the process ends, whether
 * its tests passed or failed, and on SIGTERM or SIGINT (a test runner's timeout or a
 * Ctrl-C); daemons still running are killed first, so none writes into a removed
 * directory. LOGFLOW_KEEP_TMP=1 keeps them for a look at what was left.
 */
export function tempDir(prefix = 'logflow-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  if (tempDirs.push(dir) === 1) {
    process.on('exit', removeTempDirs);
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      if (process.listenerCount(signal) === 0) process.once(signal, () => process.exit(signal === 'SIGINT' ? 130 : 143));
    }
  }
  return dir;
}

function removeTempDirs(): void {
  for (const proc of running) proc.kill('SIGKILL');
  if (process.env.LOGFLOW_KEEP_TMP) return;
  for (const d of tempDirs) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // A mount point (the tmpfs tests) or a file in use: the OS cleans temp dirs too.
    }
  }
}

/** For listings of a spool directory: its hidden entries (the source's `.flumespool`) left out. */
export function visible(name: string): boolean {
  return !name.startsWith('.');
}

/** A port that was free a moment ago (for the job's Avro port, which sink and job share). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** The bundled agent's shape with temp paths and free ports; `extra` lines are appended. */
export async function writeConfig(dir: string, extra = '', overrides: Record<string, string> = {}): Promise<{ file: string; avroPort: number }> {
  const avroPort = await freePort();
  const values: Record<string, string> = {
    'a1.sources': 'r1',
    'a1.channels': 'c1',
    'a1.sinks': 'k1',
    'a1.jobs': 'j1',
    'a1.sources.r1.type': 'spooldir',
    'a1.sources.r1.spoolDir': 'spool',
    'a1.sources.r1.fileHeader': 'true',
    'a1.sources.r1.interceptors': 'ts',
    'a1.sources.r1.interceptors.ts.type': 'timestamp',
    'a1.sources.r1.channels': 'c1',
    'a1.sources.r1.pollDelay': '200',
    'a1.channels.c1.type': 'memory',
    'a1.channels.c1.capacity': '100000',
    'a1.channels.c1.transactionCapacity': '1000',
    'a1.sinks.k1.type': 'avro',
    'a1.sinks.k1.hostname': '127.0.0.1',
    'a1.sinks.k1.port': String(avroPort),
    'a1.sinks.k1.batch-size': '1000',
    'a1.sinks.k1.channel': 'c1',
    'a1.jobs.j1.type': 'url-window-count',
    'a1.jobs.j1.bind': '127.0.0.1',
    'a1.jobs.j1.port': String(avroPort),
    'a1.jobs.j1.batchInterval': '1',
    'a1.jobs.j1.windowDuration': '300',
    'a1.jobs.j1.slideDuration': '1',
    'a1.jobs.j1.checkpointDir': 'checkpoint',
    'a1.jobs.j1.database': 'data/results.db',
    'a1.http.bind': '127.0.0.1',
    'a1.http.port': '0',
    ...overrides,
  };
  const text = Object.entries(values).filter(([, v]) => v !== '').map(([k, v]) => `${k} = ${v}`).join('\n') + '\n' + extra;
  const file = path.join(dir, 'agent.conf');
  writeFileSync(file, text);
  return { file, avroPort };
}

export interface RunningDaemon {
  readonly proc: ChildProcess;
  readonly url: string;
  readonly logs: string[];
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  get<T = unknown>(route: string): Promise<{ status: number; body: T }>;
}

export interface DaemonOptions {
  /** The daemon's open-file limit (soft and hard, `ulimit -n`), set with prlimit. */
  readonly openFiles?: number;
  /** Run as this user and group (the test runs as root). */
  readonly uid?: number;
  readonly gid?: number;
  /** Variables added to the daemon's environment. */
  readonly env?: Record<string, string>;
  /** Run under this host name (its own UTS namespace, util-linux's unshare: needs root), as a re-created container would. */
  readonly hostname?: string;
}

/** Runs the real daemon as a child process and waits until its HTTP API listens. */
export function startDaemon(cwd: string, args: string[] = ['--conf-file', 'agent.conf'], timeoutMs = 15_000, options: DaemonOptions = {}): Promise<RunningDaemon> {
  // LOGFLOW_DAEMON_NODE_ARGS: node flags for the daemon, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile a bench run.
  const nodeArgs = process.env.LOGFLOW_DAEMON_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const command = [process.execPath, ...nodeArgs, MAIN, ...args];
  // util-linux's prlimit: the daemon alone gets the lower limit, not the test driving it.
  if (options.openFiles !== undefined) command.unshift('prlimit', `--nofile=${options.openFiles}:${options.openFiles}`, '--');
  if (options.hostname !== undefined) command.unshift('unshare', '--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', options.hostname);
  const proc = spawn(command[0]!, command.slice(1), {
    cwd,
    // (glibc's allocator settings, as `npm start` and the Docker image start the daemon.)
    env: { ...process.env, ...mallocEnvironment(), LOGFLOW_LOG_LEVEL: process.env.LOGFLOW_LOG_LEVEL ?? 'info', ...options.env },
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  running.add(proc);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => {
    running.delete(proc);
    resolve(code);
  }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`daemon did not start within ${timeoutMs} ms:\n${logs.join('\n')}`));
    }, timeoutMs);
    let buffered = '';
    const onLine = (line: string) => {
      logs.push(line);
      // Ready when HTTP listens; an agent without HTTP (an edge) when it has started.
      const http = line.includes('"http listening"');
      if (!http && !(line.includes('"agent started"') && !logs.some((l) => l.includes('"http listening"')) && !expectsHttp(cwd, args))) return;
      clearTimeout(timer);
      const url = http ? (JSON.parse(line).address as string) : '';
      resolve({
        proc,
        url,
        logs,
        exited,
        async stop(signal: NodeJS.Signals = 'SIGTERM') {
          if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
          return exited;
        },
        async get<T>(route: string) {
          const res = await fetch(url + route);
          return { status: res.status, body: (await res.json()) as T };
        },
      });
    };
    proc.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      lines.forEach(onLine);
    });
    proc.stderr!.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`daemon exited with ${code} before listening:\n${logs.join('\n')}`));
    });
  });
}

/** Whether the agent's configuration has an HTTP section (then readiness is `http listening`). */
function expectsHttp(cwd: string, args: string[]): boolean {
  const i = args.indexOf('--conf-file');
  const name = args.indexOf('--name') >= 0 ? args[args.indexOf('--name') + 1]! : 'a1';
  if (i < 0) return true;
  try {
    const text = readFileSync(path.resolve(cwd, args[i + 1]!), 'utf8');
    return new RegExp(`^\\s*${name}\\.http\\.`, 'm').test(text);
  } catch {
    return true;
  }
}

/**
 * Polls `probe` until it gives a value (not undefined or false). The deadline (60 s unless
 * told) only stops a wait for a state that never comes: a busy box makes states come later,
 * so it is generous, never a speed check.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ''}`);
}
