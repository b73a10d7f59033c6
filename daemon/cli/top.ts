import { parseArgs } from 'node:util';
import { CLIENT_HELP, CLIENT_OPTIONS, DaemonClient, EXIT, number, table } from './common.js';
import { CliError } from '../errors.js';

export const TOP_HELP = `usage: logflow top [-n N] [--from T] [--to T] [--instance NAME|*] [--url URL] [--json]

The most requested URLs of the newest window, or of a range of the history (by the time
written in each line: any range, years too), as a table.

  -n N           how many URLs (1 to 1000, default 10)
  --from T       start of a range: ISO 8601 or epoch seconds (default: one window before --to)
  --to T         end of a range (default: now)
  --instance I   in a database several daemons write to: another writer's results,
                 or * for all of them summed (default: the daemon's own)
${CLIENT_HELP}
`;

interface TopBody {
  window: { start: string; end: string } | null;
  total: number;
  urls: { url: string; count: number }[];
}

export async function top(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: { ...CLIENT_OPTIONS, n: { type: 'string', short: 'n', default: '10' }, from: { type: 'string' }, to: { type: 'string' }, instance: { type: 'string' } } });
  if (values.help) {
    out.write(TOP_HELP);
    return EXIT.ok;
  }
  const n = Number(values.n);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new CliError('LF_CLI_USAGE', `-n must be a whole number from 1 to 1000, not ${JSON.stringify(values.n)}`);
  const client = new DaemonClient(values.url, values.token);
  const query = new URLSearchParams({ n: String(n) });
  if (values.from !== undefined) query.set('from', values.from);
  if (values.to !== undefined) query.set('to', values.to);
  if (values.instance !== undefined) query.set('instance', values.instance);
  const body = await client.get<TopBody>(`/api/top?${query}`);
  if (values.json) {
    out.write(JSON.stringify(body) + '\n');
    return EXIT.ok;
  }
  out.write(render(body));
  return EXIT.ok;
}

export function render(body: TopBody): string {
  if (!body.window) return 'no window yet: nothing has been counted\n';
  const head = `${body.window.start} .. ${body.window.end}: ${number.format(body.total)} events\n`;
  if (body.urls.length === 0) return head + 'no URLs in this range\n';
  const rows = [['#', 'count', 'share', 'URL']];
  body.urls.forEach((u, i) => {
    const share = body.total > 0 ? `${((u.count / body.total) * 100).toFixed(1)}%` : '-';
    rows.push([String(i + 1), number.format(u.count), share, u.url]);
  });
  return head + table(rows, new Set([0, 1, 2]));
}
