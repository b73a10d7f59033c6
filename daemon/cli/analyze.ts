import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { LogAnalyzer } from '../analyze/analyzer.js';
import { readLogLines } from '../analyze/log-lines.js';
import { renderHtml } from '../analyze/render-html.js';
import { renderText } from '../analyze/render-text.js';
import { EXIT, number, readableFile } from './common.js';
import { CliError } from '../errors.js';
import { parseFields, parseLogFormat } from './log-format-option.js';
import { compileLineFormat } from '../logformat/log-format.js';
import { statusRange } from '../counts/status-range.js';
import { ProgressLine } from './progress-line.js';

export const ANALYZE_HELP = `usage: logflow analyze FILE... [--time event|processing] [--log-format F [--field NAME=PATH]...]
                        [--window S] [--slide S] [--watermark S] [--top N]
                        [--by DIM[,DIM...]] [--status S] [--json] [--html FILE]

Reads access logs (plain or .gz) in this process, with the daemon's parser and sliding
window (no daemon, no ports), and prints a report: lines, parse errors (3 samples), the
time span, the top URLs of the whole input, the busiest window and its top URLs, a table
per file; with --by, the top keys of each dimension with their lines, bytes and visitors.

  --time T          event (default: each line counts at its own [time]) or processing
                    (at the moment it is read)
  --log-format F    auto (default), combined, common, vhost_combined, json, caddy,
                    traefik, or an Apache LogFormat / nginx log_format string (as
                    a1.jobs.NAME.logFormat)
  --field NAME=PATH a JSON format's field (as a1.jobs.NAME.fields.NAME; repeatable)
  --window S        window length in seconds (default 300)
  --slide S         slide in seconds (default 1); the window is a multiple of it
  --watermark S     event time: lines older than the newest minus S seconds count in the
                    totals but not in a window, and memory stays that of S seconds (for
                    huge inputs; default none: every window is exact, whatever the
                    order of the files or the overlap of their times)
  --top N           URLs (and keys of each dimension) listed (default 10)
  --by DIMS         dimensions to break down by, comma separated: url, status, client,
                    referrer, agent, method, vhost, user, or a JSON format's field
  --status S        with --by: only lines of this status count, 404 or a class (4xx)
  --json            the report as one JSON document on stdout (--by adds "by": {DIM: [...]})
  --html FILE       also write a self-contained HTML report to FILE (opens offline), with
                    the panels: statuses, 404 URLs, clients, referrers, browsers and
                    operating systems, bytes, visitors per day, requests by hour of day
  -h, --help        this help

exit codes: 0 done, 1 a file could not be read, 64 bad command line
`;

/** Seconds with up to 3 decimals, more than 0: the job's durations. */
function seconds(name: string, value: string): number {
  const s = Number(value);
  if (!/^\d+(\.\d{1,3})?$/.test(value) || !(s > 0)) throw new CliError('LF_CLI_USAGE', `--${name} must be a number of seconds above 0 with up to 3 decimals, not ${JSON.stringify(value)}`);
  return s;
}

export async function analyze(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WriteStream): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      time: { type: 'string', default: 'event' },
      'log-format': { type: 'string', default: 'auto' },
      field: { type: 'string', multiple: true },
      by: { type: 'string' },
      status: { type: 'string' },
      window: { type: 'string', default: '300' },
      slide: { type: 'string', default: '1' },
      watermark: { type: 'string' },
      top: { type: 'string', default: '10' },
      json: { type: 'boolean', default: false },
      html: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    out.write(ANALYZE_HELP);
    return EXIT.ok;
  }
  if (positionals.length === 0) throw new CliError('LF_CLI_USAGE', `analyze needs at least one FILE\n\n${ANALYZE_HELP}`);
  if (values.time !== 'event' && values.time !== 'processing') throw new CliError('LF_CLI_USAGE', `--time must be event or processing, not ${JSON.stringify(values.time)}`);
  const windowSeconds = seconds('window', values.window);
  const slideSeconds = seconds('slide', values.slide);
  const watermarkSeconds = values.watermark === undefined ? undefined : values.watermark === '0' ? 0 : seconds('watermark', values.watermark);
  const slots = windowSeconds / slideSeconds;
  if (Math.abs(slots - Math.round(slots)) > 1e-9) throw new CliError('LF_CLI_USAGE', `--window (${windowSeconds} s) must be a multiple of --slide (${slideSeconds} s)`);
  const topN = Number(values.top);
  if (!Number.isInteger(topN) || topN < 1 || topN > 10_000) throw new CliError('LF_CLI_USAGE', `--top must be a whole number from 1 to 10000, not ${JSON.stringify(values.top)}`);
  const fields = parseFields(values.field ?? []);
  const logFormat = parseLogFormat(values['log-format'], fields);
  const format = compileLineFormat(logFormat, { fields });
  if (!format.has.has('url')) throw new CliError('LF_CLI_USAGE', `--log-format ${logFormat} has no URL field: analyze counts URLs (a JSON format maps one with --field url=PATH)`);
  const by = values.by === undefined ? undefined : values.by.split(',').map((d) => d.trim()).filter((d) => d !== '');
  for (const d of by ?? []) {
    if (!format.has.has(d)) throw new CliError('LF_CLI_USAGE', `--by ${d}: the log format ${logFormat} has no ${d} field (it has ${format.fieldNames.filter((n) => format.has.has(n)).join(', ')})`);
  }
  if (by !== undefined && by.length === 0) throw new CliError('LF_CLI_USAGE', '--by needs at least one dimension');
  if (values.status !== undefined && !/^[1-9](\d\d|xx)$/i.test(values.status)) throw new CliError('LF_CLI_USAGE', `--status must be a status (404) or a class (4xx), not ${JSON.stringify(values.status)}`);
  if (values.status !== undefined && by === undefined) throw new CliError('LF_CLI_USAGE', '--status filters the --by dimensions: give --by too');
  const status = values.status === undefined ? undefined : { text: values.status.toLowerCase(), range: statusRange(values.status.toLowerCase()) };
  const sizes = positionals.map((file) => readableFile(file).size);
  if (values.html !== undefined && values.html === '') throw new CliError('LF_CLI_USAGE', '--html needs a file name');

  const analyzer = new LogAnalyzer({ time: values.time, logFormat, fields, windowSeconds, slideSeconds, top: topN, watermarkSeconds, by, status, panels: values.html !== undefined });
  const progress = new ProgressLine(err, sizes.reduce((a, b) => a + b, 0));
  for (const [i, file] of positionals.entries()) {
    analyzer.startFile(path.basename(file));
    const done = sizes.slice(0, i).reduce((a, b) => a + b, 0);
    const gzip = file.endsWith('.gz');
    try {
      await readLogLines(file, analyzer.onLines, (bytes) => progress.update(done + (gzip ? 0 : bytes), `${i + 1}/${positionals.length} ${path.basename(file)}`));
    } catch (e) {
      progress.clear();
      throw new CliError('LF_CLI_FAILED', `reading ${file} failed: ${(e as Error).message}`);
    }
  }
  progress.clear();
  const full = analyzer.finish();
  if (values.html !== undefined) {
    writeFileSync(values.html, renderHtml(full));
    err.write(`wrote ${values.html}\n`);
  }
  if (full.details.late > 0 && values.json) {
    err.write(`logflow analyze: ${number.format(full.details.late)} line(s) were more than ${watermarkSeconds} s older than a line before them: counted in the totals, not in any window\n`);
  }
  out.write(values.json ? JSON.stringify(full.report) + '\n' : renderText(full));
  return EXIT.ok;
}
