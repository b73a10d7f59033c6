import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './daemon-process.js';

/** Debian's PostgreSQL binaries (apt-get install postgresql): the newest /usr/lib/postgresql/N/bin, or PG_BIN. */
export const PG_BIN: string | undefined = process.env.PG_BIN ?? newestPgBin();

function newestPgBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : path.join(root, versions[0], 'bin');
}

/**
 * The reason to skip the PostgreSQL tests, or false when the server is installed. Said on
 * stderr too, so a run that skips them shows it. With LOGFLOW_REQUIRE_POSTGRES=1 (.ci/run
 * sets it) they are not skipped: they fail with this reason, so CI cannot pass without them.
 */
export const skipWithoutPostgres: string | false = PG_BIN ? false : missingPostgres();

function missingPostgres(): string | false {
  const reason = 'PostgreSQL is not installed (no /usr/lib/postgresql/N/bin/initdb: apt-get install postgresql, or set PG_BIN)';
  if (process.env.LOGFLOW_REQUIRE_POSTGRES === '1') return false;
  process.stderr.write(`\n*** SKIPPING the PostgreSQL tests: ${reason} ***\n\n`);
  return reason;
}

/** initdb refuses to run as root: as root, the server's commands run as the `postgres` user (Debian's package makes it). */
const asPostgres = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];

function run(cmd: string, args: string[]): void {
  const [bin, ...rest] = asPostgres.length > 0 ? [...asPostgres, cmd, ...args] : [cmd, ...args];
  const r = spawnSync(bin!, rest, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
}

/**
 * A throwaway PostgreSQL server on loopback, for a test file or a bench: initdb in a temp
 * directory, a free port, the superuser `postgres` trusted on 127.0.0.1 (other roles log in
 * with a password), fsync off (the tests crash the daemon, not the machine). Started once
 * per test file; `stop` removes it. `crash` and `start` take it away and back mid-test.
 */
export class PostgresServer {
  readonly dir: string;
  readonly port: number;
  #running = false;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  static async start(): Promise<PostgresServer> {
    if (!PG_BIN) throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/N/bin/initdb: apt-get install postgresql, or set PG_BIN); LOGFLOW_REQUIRE_POSTGRES=1 makes this a failure');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'logflow-pg-'));
    chmodSync(dir, 0o777);
    const data = path.join(dir, 'data');
    run(path.join(PG_BIN, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '-N']);
    writeFileSync(path.join(data, 'pg_hba.conf'), [
      'local all all trust',
      'host all postgres 127.0.0.1/32 trust',
      'host all all 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n'));
    const server = new PostgresServer(dir, await freePort());
    await server.begin();
    await server.sql('CREATE DATABASE logflow', 'postgres');
    return server;
  }

  /** A connection URL for `database` as `user` (`user:password` for a role with one). */
  url(database = 'logflow', user = 'postgres'): string {
    return `postgres://${user}@127.0.0.1:${this.port}/${database}`;
  }

  /** Runs `text` as the superuser on `database`; the rows of its (last) statement. */
  async sql<T extends pg.QueryResultRow = Record<string, unknown>>(text: string, database = 'logflow', values: unknown[] = []): Promise<T[]> {
    const c = new pg.Client({ host: '127.0.0.1', port: this.port, user: 'postgres', database });
    await c.connect();
    try {
      const r = await c.query<T>(text, values);
      return (Array.isArray(r) ? (r.at(-1) as pg.QueryResult<T>) : r).rows;
    } finally {
      await c.end();
    }
  }

  /** (Re)starts the server on its port and waits until it takes connections. */
  async begin(): Promise<void> {
    if (this.#running) return;
    run(path.join(PG_BIN!, 'pg_ctl'), [
      '-D', path.join(this.dir, 'data'), '-l', path.join(this.dir, 'server.log'), '-w', '-t', '60',
      '-o', `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`,
      'start',
    ]);
    this.#running = true;
  }

  /** Takes the server away at once (SIGQUIT to the postmaster: connections drop, no checkpoint), as a crash would. */
  async crash(): Promise<void> {
    if (!this.#running) return;
    run(path.join(PG_BIN!, 'pg_ctl'), ['-D', path.join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
    this.#running = false;
  }

  /** Stops the server and removes its directory. */
  async stop(): Promise<void> {
    if (this.#running) {
      try {
        run(path.join(PG_BIN!, 'pg_ctl'), ['-D', path.join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
      } catch {
        // Stopped already (a test took it away).
      }
      this.#running = false;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Whether `runuser` exists when it is needed (root without it cannot run initdb). */
export function canRunPostgres(): boolean {
  if (!PG_BIN) return false;
  if (asPostgres.length === 0) return true;
  try {
    execFileSync('id', ['postgres'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
