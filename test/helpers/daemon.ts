import type { TestContext } from 'node:test';
import { startDaemon, tempDir, writeConfig, type DaemonOptions as ProcessOptions, type RunningDaemon } from '../../scripts/lib/daemon-process.js';

export * from '../../scripts/lib/daemon-process.js';

/** See DaemonOptions.timeoutMs. */
export const START_TIMEOUT_MS = 60_000;

/** What the test agent's daemon gets; the process options (env, openFiles, uid, gid) go to startDaemon. */
export interface DaemonOptions extends ProcessOptions {
  /** Lines appended to the test agent's configuration (writeConfig), and keys it changes. */
  readonly extra?: string;
  readonly overrides?: Record<string, string>;
  /**
   * A directory whose configuration is written already: a restart, or a configuration of
   * the test's own (extra and overrides do not apply then). Default: a fresh temp dir with
   * the test agent's configuration.
   */
  readonly dir?: string;
  /** Runs in the directory before the daemon starts (files to find at start, mounts); the configuration may not be written yet. */
  readonly before?: (dir: string) => void | Promise<void>;
  /** The daemon's arguments (default `--conf-file agent.conf`). */
  readonly args?: string[];
  /**
   * How long it may take to listen (default 60 s): a guard against a start that hangs, not a
   * speed check; a box at load 40 took over 15 s to resume a checkpoint and listen.
   */
  readonly timeoutMs?: number;
}

export interface TestDaemon extends RunningDaemon {
  /** Where it runs: spool/, checkpoint/ and data/ are under it. */
  readonly dir: string;
  /** The job's Avro port, when withDaemon wrote the configuration. */
  readonly avroPort: number | undefined;
}

/**
 * The real daemon as a child process, once its HTTP API listens (an agent without HTTP:
 * once it started). It is killed when the test ends, passed or failed (`t.after`), so a
 * test keeps no list of its daemons and needs no `finally`; a test that stops it itself
 * (SIGTERM, to check the exit) loses nothing, a second stop is a no-op.
 */
export async function withDaemon(t: Pick<TestContext, 'after'>, options: DaemonOptions = {}): Promise<TestDaemon> {
  if (options.dir !== undefined) {
    await options.before?.(options.dir);
    const daemon = await startDaemon(options.dir, options.args, options.timeoutMs ?? START_TIMEOUT_MS, options);
    t.after(() => daemon.stop('SIGKILL'));
    return Object.assign(daemon, { dir: options.dir, avroPort: undefined });
  }
  const dir = tempDir();
  await options.before?.(dir);
  for (let attempt = 1; ; attempt++) {
    const { avroPort } = await writeConfig(dir, options.extra, options.overrides);
    try {
      const daemon = await startDaemon(dir, options.args, options.timeoutMs ?? START_TIMEOUT_MS, options);
      t.after(() => daemon.stop('SIGKILL'));
      return Object.assign(daemon, { dir, avroPort });
    } catch (err) {
      // The Avro port was free when picked (freePort) and taken since, by another test's
      // outgoing connection (an ephemeral port): picked again, as a user would change it.
      if (attempt === 3 || !/a1\.jobs\.j1\.port: listen EADDRINUSE/.test((err as Error).message)) throw err;
    }
  }
}

/**
 * A crash and a restart: `daemon` killed with SIGKILL, `meanwhile` run once it is gone (a
 * lock released, a disk freed), then the daemon started again in its directory.
 */
export async function crashAndRestart(t: Pick<TestContext, 'after'>, daemon: TestDaemon, meanwhile?: () => void, options: Omit<DaemonOptions, 'dir'> = {}): Promise<TestDaemon> {
  daemon.proc.kill('SIGKILL');
  await daemon.exited;
  meanwhile?.();
  return Object.assign(await withDaemon(t, { ...options, dir: daemon.dir }), { avroPort: daemon.avroPort });
}

/** An agent `agg` that is a job alone: its Avro receiver on `port`, results in data/results.db, HTTP on a free port. */
export function aggregatorConf(port: number, extra = ''): string {
  return [
    'agg.jobs = j1', 'agg.jobs.j1.type = url-window-count', 'agg.jobs.j1.bind = 127.0.0.1', `agg.jobs.j1.port = ${port}`,
    'agg.jobs.j1.checkpointDir = checkpoint', 'agg.jobs.j1.database = data/results.db', 'agg.http.bind = 127.0.0.1', 'agg.http.port = 0',
  ].join('\n') + '\n' + extra;
}
