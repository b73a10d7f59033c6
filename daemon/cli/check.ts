import { parseArgs } from 'node:util';
import { CHECK_FORMATS, checkLog, type CheckResult } from '../analyze/format-check.js';
import { loadAgentConfig } from '../agent-config.js';
import { ofType } from '../components.js';
import { EXIT, number, readableFile, table } from './common.js';
import { CliError } from '../errors.js';
import { parseFields, parseLogFormat } from './log-format-option.js';

export const CHECK_HELP = `usage: logflow check FILE [--log-format F | --conf-file FILE [--name AGENT]] [--lines N] [--json]

A parser dry run: how many lines of FILE (plain or .gz) each log format parses, then the
first 5 lines that fail under the best one, with a caret under the byte where parsing
stopped and the field that was expected there.

  --log-format F       check this format only (the values of a1.jobs.NAME.logFormat);
                       without it: combined, common, vhost_combined, caddy, traefik,
                       and the conf's logFormat when --conf-file is given
  --field NAME=PATH    a JSON format's field (as a1.jobs.NAME.fields.NAME; repeatable):
                       --log-format json --field url=request.uri --field time=ts
  -f, --conf-file FILE an agent configuration whose job's logFormat is tried too
  -n, --name AGENT     the agent in that file (default a1)
  --lines N            read at most N lines (default 100,000)
  --json               the result as one JSON document on stdout
  -h, --help           this help

exit codes: 0 at least 99% of the lines parse under the best format, 1 fewer do (or the
            file could not be read), 64 bad command line
`;

const PASS_SHARE = 0.99;

/** The formats to try, and a JSON format's fields: the one given, or the known ones plus the conf's. */
function formatsToTry(values: { 'log-format'?: string | undefined; 'conf-file'?: string | undefined; name?: string | undefined; field?: string[] | undefined }): { formats: string[]; fields: Record<string, string> } {
  const fields = parseFields(values.field ?? []);
  if (values['log-format'] !== undefined) return { formats: [parseLogFormat(values['log-format'], fields)], fields };
  const formats: string[] = [...CHECK_FORMATS];
  if (values['conf-file'] !== undefined) {
    let job: { logFormat: string; fields: Readonly<Record<string, string>> } | undefined;
    try {
      job = ofType(loadAgentConfig(values['conf-file'], values.name ?? 'a1').jobs, 'url-window-count')[0];
    } catch (err) {
      throw new CliError('LF_CLI_USAGE', (err as Error).message);
    }
    if (job !== undefined && job.logFormat !== 'auto' && !formats.includes(job.logFormat)) formats.push(job.logFormat);
    if (job !== undefined) return { formats, fields: { ...job.fields } };
  }
  return { formats, fields };
}

export async function check(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      'log-format': { type: 'string' },
      field: { type: 'string', multiple: true },
      'conf-file': { type: 'string', short: 'f' },
      name: { type: 'string', short: 'n' },
      lines: { type: 'string', default: '100000' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    out.write(CHECK_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) throw new CliError('LF_CLI_USAGE', `check takes one FILE, not ${positionals.length}\n\n${CHECK_HELP}`);
  if (values['log-format'] !== undefined && values['conf-file'] !== undefined) throw new CliError('LF_CLI_USAGE', 'give --log-format or --conf-file, not both');
  const maxLines = Number(values.lines.replace(/[,_]/g, ''));
  if (!Number.isInteger(maxLines) || maxLines < 1) throw new CliError('LF_CLI_USAGE', `--lines must be a whole number above 0, not ${JSON.stringify(values.lines)}`);
  const file = positionals[0]!;
  const { formats, fields } = formatsToTry(values);
  readableFile(file);
  let result: CheckResult;
  try {
    result = await checkLog(file, formats, maxLines, fields);
  } catch (e) {
    throw new CliError('LF_CLI_FAILED', `reading ${file} failed: ${(e as Error).message}`);
  }
  out.write(values.json ? JSON.stringify(result) + '\n' : renderCheck(result));
  const best = result.formats.find((f) => f.format === result.best)!;
  return result.lines > 0 && best.share >= PASS_SHARE ? EXIT.ok : EXIT.failed;
}

/** Rounded down: 98.97% must not show as the 99.0% it failed to reach. */
const percent = (share: number) => `${(Math.floor(1000 * share) / 10).toFixed(1)}%`;

export function renderCheck(r: CheckResult): string {
  const out: string[] = [];
  out.push(`${r.file}: ${number.format(r.lines)} lines checked${r.capped ? ' (the first ones: --lines)' : ''}`);
  if (r.lines === 0) return out.join('\n') + '\nno lines: nothing to check\n';
  const rows = [['format', 'parsed', 'share']];
  for (const f of r.formats) rows.push([f.format, number.format(f.parsed), percent(f.share)]);
  out.push(table(rows, new Set([1, 2])).trimEnd());
  if (r.formats.some((f) => f.format === 'combined') && r.formats.some((f) => f.format === 'common')) {
    out.push('(combined and common share one parser: each takes lines with or without referer and agent)');
  }
  const best = r.formats.find((f) => f.format === r.best)!;
  out.push('', `best: ${r.best}, ${percent(best.share)} of the lines parse (${percent(PASS_SHARE)} needed)`);
  if (r.noEventTime.lines > 0) {
    out.push(`event time: ${number.format(r.noEventTime.lines)} of them have no time it can read (line ${number.format(r.noEventTime.first!)} first): with time = event (analyze's default) they are parse errors`);
  }
  for (const f of r.fields ?? []) {
    if (f.missing > 0) out.push(`field ${f.name} (${f.path}): missing in ${number.format(f.missing)} line(s) (line ${number.format(f.first!)} first): ${f.name === 'url' ? 'those lines are parse errors' : f.name === 'time' ? 'with time = event they are parse errors' : `they count as "-"`}`);
  }
  if (r.failures.length === 0) return out.join('\n') + '\n';
  out.push(`first ${r.failures.length} line(s) that do not parse as ${r.best}:`);
  for (const f of r.failures) {
    out.push(`line ${number.format(f.line)}, byte ${f.byte}:`, `  ${f.text}`, `  ${' '.repeat(f.column)}^ ${f.field}: ${f.expected}`);
  }
  return out.join('\n') + '\n';
}
