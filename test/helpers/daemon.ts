import type { TestContext } from 'node:test';
import { startDaemon, tempDir, writeConfig, type RunningDaemon } from '../../scripts/lib/daemon-process.js';

export * from '../../scripts/lib/daemon-process.js';

export interface DaemonOptions {
  /** Lines appended to the test agent's configuration (writeConfig), and keys it changes. */
  readonly extra?: string;
  readonly overrides?: Record<string, string>;
  /**
   * A directory whose configuration is written already: a restart, or a configuration of
   * the test's own (extra and overrides do not apply then). Default: a fresh temp dir with
   * the test agent's configuration.
   */
  readonly dir?: string;
  /** The daemon's arguments (default `--conf-file agent.conf`). */
  readonly args?: string[];
  /** How long it may take to listen (default 15 s). */
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
  let { dir } = options;
  let avroPort: number | undefined;
  if (dir === undefined) {
    dir = tempDir();
    ({ avroPort } = await writeConfig(dir, options.extra, options.overrides));
  }
  const daemon = await startDaemon(dir, options.args, options.timeoutMs);
  t.after(() => daemon.stop('SIGKILL'));
  return Object.assign(daemon, { dir, avroPort });
}

/** An agent `agg` that is a job alone: its Avro receiver on `port`, results in data/results.db, HTTP on a free port. */
export function aggregatorConf(port: number, extra = ''): string {
  return [
    'agg.jobs = j1', 'agg.jobs.j1.type = url-window-count', 'agg.jobs.j1.bind = 127.0.0.1', `agg.jobs.j1.port = ${port}`,
    'agg.jobs.j1.checkpointDir = checkpoint', 'agg.jobs.j1.database = data/results.db', 'agg.http.bind = 127.0.0.1', 'agg.http.port = 0',
  ].join('\n') + '\n' + extra;
}
