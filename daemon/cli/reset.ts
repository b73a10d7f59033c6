import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadAgentConfig, type AgentConfig } from '../agent-config.js';
import { ofType } from '../components.js';
import { DirLock } from '../durable/index.js';
import { CliError, LogflowError } from '../errors.js';
import { bytes, EXIT } from './common.js';
import { postgresRows, type PostgresRows } from './reset-postgres.js';

export const RESET_HELP = `usage: logflow reset --yes [--conf-file FILE] [--name AGENT]

Starts over in one command. With the daemon stopped, removes every piece of state the
agent keeps, and says what it removed:
  - the job's checkpoint (window, open batches, file positions, write-ahead log);
  - the results database (the live window's results and the whole history); in a shared
    PostgreSQL database (database = postgres://...), this agent's rows only: those of its
    instance (a1.jobs.<job>.instance), deleted in one transaction before the files go;
    the tables, views and other instances' rows are kept. A server that cannot be reached,
    or a daemon writing as the instance, is refused and nothing is removed;
  - the spool sources' records of finished files, with their fingerprints (so the same
    logs can be counted again instead of being refused as duplicates);
  - the file channels' events and checkpoints.
The log files in the spool are kept; a finished one keeps its suffix (.COMPLETED...):
rename it without the suffix, or drop it again, to count it again. A running daemon is
refused, naming its pid. Without --yes, lists what it would remove and removes nothing.

npm start -- --reset-checkpoint is not this: it discards the job's checkpoint only. The
history and the file records stay, so files still in the spool are read from their
beginning and counted in the history a second time, and logs counted before are refused
as duplicates.

  -f, --conf-file FILE   the agent's configuration (default conf/agent.conf)
  -n, --name AGENT       the agent in that file (default a1)
  --yes                  remove (without it: only list)
  -h, --help             this help

exit codes: 0 removed (or nothing to remove), 1 refused (a daemon runs) or not confirmed
(no --yes), 64 bad command line
`;

/** One piece of state: what it is, where, and the files or directories that hold it. */
interface Piece {
  readonly what: string;
  readonly where: string;
  readonly paths: string[];
}

/** The job's checkpoint files (checkpoint-store.ts, the write-ahead log and format 1's). */
const CHECKPOINT_ENTRIES = ['manifest.json', 'manifest.json.tmp', 'segments', 'wal', 'slots', 'open'];

function existing(dir: string, names: (name: string) => boolean): string[] {
  try {
    return readdirSync(dir).filter(names).sort().map((n) => path.join(dir, n));
  } catch {
    return [];
  }
}

/** What the agent keeps, where its configuration puts it. */
function stateOf(config: AgentConfig): Piece[] {
  const pieces: Piece[] = [];
  for (const job of ofType(config.jobs, 'url-window-count')) {
    pieces.push({ what: `job ${job.name}'s checkpoint`, where: job.checkpointDir, paths: existing(job.checkpointDir, (n) => CHECKPOINT_ENTRIES.includes(n)) });
    // A PostgreSQL database's rows are counted and deleted apart (postgresRows).
    if (job.postgres) continue;
    const db = path.basename(job.database);
    pieces.push({ what: `job ${job.name}'s results and history`, where: job.database, paths: existing(path.dirname(job.database), (n) => [db, `${db}-wal`, `${db}-shm`, `${db}-journal`].includes(n)) });
  }
  for (const source of ofType(config.sources, 'spooldir')) {
    pieces.push({ what: `source ${source.name}'s file records and fingerprints`, where: path.join(source.trackerDir, 'files.db'), paths: existing(source.trackerDir, (n) => /^files\.db(-wal|-shm|-journal)?$/.test(n)) });
  }
  for (const channel of ofType(config.channels, 'file')) {
    pieces.push({
      what: `file channel ${channel.name}'s events and checkpoint`,
      where: `${channel.dataDir}, ${channel.checkpointDir}`,
      paths: [...existing(channel.checkpointDir, (n) => n.startsWith('checkpoint.json')), ...existing(channel.dataDir, (n) => n.startsWith('log-'))],
    });
  }
  return pieces.filter((p) => p.paths.length > 0);
}

/** The directories a running daemon locks (job checkpoint, file channels): locked here while removing. */
function lockAll(config: AgentConfig): DirLock[] {
  const dirs: [string, string][] = [
    ...ofType(config.jobs, 'url-window-count').map((j) => [j.checkpointDir, 'checkpoint directory'] as [string, string]),
    ...ofType(config.channels, 'file').flatMap((c) => [[c.checkpointDir, `file channel ${c.name}: checkpointDir`], [c.dataDir, `file channel ${c.name}: dataDir`]] as [string, string][]),
  ];
  const locks: DirLock[] = [];
  try {
    for (const [dir, what] of dirs) if (existsSync(dir)) locks.push(DirLock.acquire(dir, what));
  } catch (err) {
    for (const l of locks) l.release();
    if (err instanceof LogflowError && err.code === 'LF_LOCKED') throw new CliError('LF_CLI_FAILED', `refused: the daemon is running: ${err.message}. Stop it first (SIGTERM, or docker compose stop), then reset.`);
    throw err;
  }
  return locks;
}

/** An agent without locked directories (an edge with a memory channel): is its HTTP server up? */
async function answering(config: AgentConfig): Promise<string | undefined> {
  const http = config.http;
  if (!http || http.port === 0) return undefined;
  const host = http.bind === '0.0.0.0' || http.bind === '::' ? '127.0.0.1' : http.bind.includes(':') ? `[${http.bind}]` : http.bind;
  const url = `http://${host}:${http.port}`;
  try {
    await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    return url;
  } catch {
    return undefined;
  }
}

function sizeOf(p: string): number {
  try {
    const st = statSync(p);
    if (!st.isDirectory()) return st.size;
    return readdirSync(p).reduce((n, name) => n + sizeOf(path.join(p, name)), 0);
  } catch {
    return 0;
  }
}

/** Finished files left in the spools: what the user may want to count again. */
function finishedLogs(config: AgentConfig): string[] {
  return ofType(config.sources, 'spooldir').flatMap((s) => {
    const suffixes = [s.fileSuffix, s.failedSuffix, '.DUPLICATE'];
    return existing(s.spoolDir, (n) => !n.startsWith('.') && suffixes.some((x) => n.endsWith(x))).map((p) => path.basename(p));
  });
}

export async function reset(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      'conf-file': { type: 'string', short: 'f' },
      name: { type: 'string', short: 'n' },
      yes: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    out.write(RESET_HELP);
    return EXIT.ok;
  }
  if (positionals.length > 0) throw new CliError('LF_CLI_USAGE', `reset takes no FILE (${positionals.join(' ')})\n\n${RESET_HELP}`);
  const file = values['conf-file'] ?? 'conf/agent.conf';
  const agent = values.name ?? 'a1';
  let config: AgentConfig;
  try {
    config = loadAgentConfig(file, agent);
  } catch (err) {
    throw new CliError('LF_CLI_USAGE', `${(err as Error).message}\n(reset reads the agent's configuration to find its state: --conf-file FILE --name AGENT)`);
  }
  const locks = lockAll(config);
  const servers: PostgresRows[] = [];
  try {
    if (locks.length === 0) {
      const url = await answering(config);
      if (url) throw new CliError('LF_CLI_FAILED', `refused: a logflow daemon answers at ${url}. Stop it first (SIGTERM), then reset.`);
    }
    const pieces = stateOf(config);
    for (const job of ofType(config.jobs, 'url-window-count')) if (job.postgres) servers.push(await postgresRows(agent, job));
    const rows = servers.filter((s) => s.rows > 0);
    const finished = finishedLogs(config);
    const kept = finished.length > 0
      ? `kept: the spool's log files; ${finished.length} finished (${finished.slice(0, 3).join(', ')}${finished.length > 3 ? ', ...' : ''}): rename one without its suffix, or drop it again, to count it again\n`
      : '';
    if (pieces.length === 0 && rows.length === 0) {
      out.write(`nothing to remove: agent ${agent} of ${file} keeps no state yet\n${kept}`);
      return EXIT.ok;
    }
    const lines = [
      ...rows.map((s) => `  ${s.what}: ${s.where} (${s.rows.toLocaleString('en-US')} rows)`),
      ...pieces.map((p) => `  ${p.what}: ${p.where} (${p.paths.map((x) => path.basename(x) + (statSync(x).isDirectory() ? '/' : '')).join(', ')}; ${bytes(p.paths.reduce((n, x) => n + sizeOf(x), 0))})`),
    ];
    if (!values.yes) {
      out.write(`would remove (agent ${agent} of ${file}):\n${lines.join('\n')}\nnothing removed: run again with --yes to remove these\n`);
      return EXIT.failed;
    }
    // The rows first: a checkpoint gone while its rows stayed would count them twice.
    for (const s of rows) await s.remove();
    for (const p of pieces) for (const x of p.paths) rmSync(x, { recursive: true, force: true });
    out.write(`removed (agent ${agent} of ${file}):\n${lines.join('\n')}\n${kept}`);
    return EXIT.ok;
  } finally {
    for (const s of servers) await s.close();
    for (const l of locks) l.release();
  }
}
