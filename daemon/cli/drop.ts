import { closeSync, constants, copyFileSync, fsyncSync, linkSync, openSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadAgentConfig } from '../agent-config.js';
import { ofType } from '../components.js';
import { DUPLICATE_SUFFIX } from '../source/spooldir-source.js';
import { bytes, CLIENT_HELP, CLIENT_OPTIONS, DaemonClient, EXIT, number, type FileEntry } from './common.js';
import { CliError } from '../errors.js';

export const DROP_HELP = `usage: logflow drop FILE... [--spool DIR | --conf-file FILE --name AGENT] [--no-wait]

Copies log files into the spool directory safely (under a hidden temporary name, then
linked in under their own name, so the daemon never sees half a file), refuses a name the
spool has already used (NAME, NAME.COMPLETED or NAME.FAILED), then shows a progress bar
per file until each is counted, and a summary. Nothing is copied if any file is refused.
Exits 1 when a file failed, or when most of a file's lines did not parse (a warning names
the format tried; the daemon's log shows 3 of the lines). A file whose content was counted
before is reported as a duplicate and not counted again.

  --spool DIR          the spool directory (default: the spoolDir of the agent's source)
  -f, --conf-file FILE the agent's configuration (default conf/agent.conf)
  -n, --name AGENT     the agent in that file (default a1)
  --no-wait            copy and exit, without following the files
  --timeout SECONDS    how long to wait for the files to be counted (default 3600)
${CLIENT_HELP}
`;

interface SpoolTarget {
  readonly dir: string;
  readonly fileSuffix: string;
  readonly failedSuffix: string;
  /** The daemon's address from the configuration, when it was read. */
  readonly url: string | undefined;
}

/** The spool directory and its suffixes, from --spool or the agent's configuration. */
function spoolTarget(values: { spool?: string | undefined; 'conf-file'?: string | undefined; name?: string | undefined }): SpoolTarget {
  if (values.spool !== undefined) return { dir: path.resolve(values.spool), fileSuffix: '.COMPLETED', failedSuffix: '.FAILED', url: undefined };
  const file = values['conf-file'] ?? 'conf/agent.conf';
  const agent = values.name ?? 'a1';
  let config;
  try {
    config = loadAgentConfig(file, agent);
  } catch (err) {
    throw new CliError('LF_CLI_USAGE', `${(err as Error).message}\n(give the spool directory with --spool DIR, or the agent with --conf-file FILE --name AGENT)`);
  }
  const source = ofType(config.sources, 'spooldir')[0];
  if (!source) throw new CliError('LF_CLI_USAGE', `agent ${agent} in ${file} has no spooldir source; give --spool DIR`);
  const http = config.http;
  const host = !http || http.bind === '0.0.0.0' || http.bind === '::' ? '127.0.0.1' : http.bind.includes(':') ? `[${http.bind}]` : http.bind;
  return { dir: source.spoolDir, fileSuffix: source.fileSuffix, failedSuffix: source.failedSuffix, url: http && http.port > 0 ? `http://${host}:${http.port}` : undefined };
}

/** Why `file` cannot be dropped into the spool as it is, or undefined when it can. */
function refusal(file: string, spool: SpoolTarget, names: Set<string>): string | undefined {
  const name = path.basename(file);
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    return `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  if (!st.isFile()) return `${file} is not a regular file`;
  if (name.startsWith('.')) return `${name}: the daemon skips hidden files; rename it`;
  if (names.has(name)) return `${name} is given twice`;
  for (const used of [name, name + spool.fileSuffix, name + spool.failedSuffix, name + DUPLICATE_SUFFIX]) {
    try {
      statSync(path.join(spool.dir, used));
      return `${name} was already used in ${spool.dir} (${used} exists); rename the file first`;
    } catch {
      // Free: this is the answer we want.
    }
  }
  return undefined;
}

/** Copy to a hidden name, sync, then link under the real name: link fails if the name was taken meanwhile. */
function copyIn(file: string, dir: string): string {
  const name = path.basename(file);
  const tmp = path.join(dir, `.${name}.${process.pid}.logflow-tmp`);
  const final = path.join(dir, name);
  try {
    copyFileSync(file, tmp, constants.COPYFILE_EXCL);
    const fd = openSync(tmp, 'r+');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    linkSync(tmp, final);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError('LF_CLI_FAILED', code === 'EEXIST' ? `${name} appeared in ${dir} while copying; not replaced` : `cannot copy ${file} into ${dir}: ${(err as Error).message}`);
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // Already gone (the copy failed before creating it).
    }
  }
  return final;
}

export async function drop(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      ...CLIENT_OPTIONS,
      spool: { type: 'string' },
      'conf-file': { type: 'string', short: 'f' },
      name: { type: 'string', short: 'n' },
      'no-wait': { type: 'boolean', default: false },
      timeout: { type: 'string', default: '3600' },
    },
  });
  if (values.help) {
    out.write(DROP_HELP);
    return EXIT.ok;
  }
  if (positionals.length === 0) throw new CliError('LF_CLI_USAGE', `no FILE given\n\n${DROP_HELP}`);
  const timeoutS = Number(values.timeout);
  if (!(timeoutS > 0)) throw new CliError('LF_CLI_USAGE', `--timeout must be a positive number of seconds, not ${JSON.stringify(values.timeout)}`);
  const spool = spoolTarget(values);
  if (!isDirectory(spool.dir)) {
    throw new CliError('LF_CLI_FAILED', `the spool directory ${spool.dir} does not exist (is the daemon configured and started?)`);
  }
  const names = new Set<string>();
  const refused: string[] = [];
  for (const file of positionals) {
    const why = refusal(file, spool, names);
    if (why) refused.push(why);
    names.add(path.basename(file));
  }
  if (refused.length > 0) throw new CliError('LF_CLI_FAILED', `nothing copied:\n  ${refused.join('\n  ')}`);
  // Before copying: a wrong --url is a usage error better found now than after the copy.
  const client = new DaemonClient(values.url ?? spool.url, values.token);
  const started = Date.now();
  const dropped = positionals.map((file) => ({ name: path.basename(file), path: copyIn(file, spool.dir), size: statSync(file).size }));
  if (!values.json) for (const d of dropped) err.write(`dropped ${d.name} -> ${d.path}\n`);
  if (values['no-wait']) {
    if (values.json) out.write(JSON.stringify({ spool: spool.dir, files: dropped.map((d) => ({ name: d.name, path: d.path, size: d.size, state: 'dropped' })) }) + '\n');
    return EXIT.ok;
  }
  const final = await follow(client, dropped, started, timeoutS * 1000, values.json ? undefined : err);
  const seconds = (Date.now() - started) / 1000;
  const failed = final.filter((f) => f.state === 'failed');
  const duplicates = final.filter((f) => f.state === 'duplicate');
  // A file in another format than the job's is counted, but as parse errors: not a success.
  const warned = final.filter((f) => f.warning);
  if (values.json) {
    out.write(JSON.stringify({ spool: spool.dir, seconds, files: final.map(({ name, path: p, state, size, lines, parseErrors, reason, warning, duplicateOf, note }) => ({ name, path: p, state, size, lines, parseErrors, reason, warning: warning ?? null, duplicateOf: duplicateOf ?? null, note: note ?? null })) }) + '\n');
  } else {
    const lines = final.reduce((n, f) => n + f.lines, 0);
    const errors = final.reduce((n, f) => n + (f.parseErrors ?? 0), 0);
    const counted = final.length - failed.length - duplicates.length;
    out.write(`${counted} of ${final.length} file(s) counted: ${number.format(lines)} lines, ${number.format(errors)} parse errors, in ${seconds.toFixed(1)} s\n`);
    for (const f of failed) out.write(`failed: ${f.name}: ${f.reason ?? 'no reason given'}\n`);
    for (const f of duplicates) out.write(`duplicate: ${f.name}: ${f.reason ?? `same content as ${f.duplicateOf}`}\n`);
    for (const f of warned) out.write(`warning: ${f.name}: ${f.warning} (the daemon's log shows 3 of its lines)\n`);
    for (const f of final) if (f.note) out.write(`note: ${f.name}: ${f.note}\n`);
  }
  return failed.length > 0 || warned.length > 0 ? EXIT.failed : EXIT.ok;
}

type Followed = Pick<FileEntry, 'name' | 'path' | 'state' | 'size' | 'bytesRead' | 'lines' | 'parseErrors' | 'reason' | 'warning' | 'duplicateOf' | 'note'>;

/** Polls /api/files until every dropped file is completed or failed, drawing progress on `tty`. */
async function follow(client: DaemonClient, dropped: { name: string; path: string; size: number }[], startedMs: number, timeoutMs: number, progress: (NodeJS.WritableStream & { isTTY?: boolean; columns?: number }) | undefined): Promise<Followed[]> {
  const current = new Map<string, Followed>(dropped.map((d) => [d.name, { name: d.name, path: d.path, state: 'pending', size: d.size, bytesRead: 0, lines: 0, parseErrors: null, reason: null }]));
  const view = progress ? new ProgressView(progress, dropped.map((d) => d.name)) : undefined;
  const deadline = startedMs + timeoutMs;
  for (;;) {
    const { files } = await client.get<{ files: FileEntry[] }>('/api/files');
    for (const f of files) {
      // The newest entry of each name: one that started before the drop is an older file.
      if (!current.has(f.name) || (f.startedAt !== null && Date.parse(f.startedAt) < startedMs - 1000)) continue;
      current.set(f.name, f);
    }
    const all = [...current.values()];
    view?.draw(all);
    if (all.every(isFinished)) return all;
    if (Date.now() > deadline) {
      const open = all.filter((f) => !isFinished(f)).map((f) => `${f.name} (${f.state})`);
      throw new CliError('LF_CLI_UNREACHABLE', `timed out after ${timeoutMs / 1000} s waiting for ${open.join(', ')}; the files stay in the spool`);
    }
    await sleep(200);
  }
}

function isFinished(f: Followed): boolean {
  return f.state === 'completed' || f.state === 'failed' || f.state === 'duplicate';
}

/** One line per file: a bar on a terminal (redrawn in place), a line per state change otherwise. */
class ProgressView {
  readonly #out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly #width: number;
  #drawn = 0;
  readonly #lastState = new Map<string, string>();

  constructor(out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }, names: string[]) {
    this.#out = out;
    this.#width = Math.max(...names.map((n) => n.length));
  }

  draw(files: Followed[]): void {
    if (!this.#out.isTTY) {
      for (const f of files) {
        if (this.#lastState.get(f.name) === f.state) continue;
        this.#lastState.set(f.name, f.state);
        this.#out.write(`${f.name}: ${f.state}${f.state === 'failed' ? ` (${f.reason})` : ''}\n`);
      }
      return;
    }
    const barWidth = Math.max(10, Math.min(40, (this.#out.columns ?? 80) - this.#width - 40));
    const lines = files.map((f) => {
      const done = f.state === 'completed' ? 1 : f.size > 0 ? Math.min(1, f.bytesRead / f.size) : 0;
      const filled = Math.round(done * barWidth);
      const bar = '█'.repeat(filled) + '░'.repeat(barWidth - filled);
      const label = f.state === 'reading' ? `${bytes(f.bytesRead)}/${bytes(f.size)}` : f.state === 'completed' ? `${number.format(f.lines)} lines` : f.state;
      return `${f.name.padEnd(this.#width)}  ${bar} ${String(Math.floor(done * 100)).padStart(3)}%  ${label}`;
    });
    // Back to the first line of the previous drawing, then overwrite it line by line.
    if (this.#drawn > 0) this.#out.write(`\x1b[${this.#drawn}A`);
    this.#out.write(lines.map((l) => `\x1b[2K${l}\n`).join(''));
    this.#drawn = lines.length;
  }
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
