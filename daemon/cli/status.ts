import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { CLIENT_HELP, CLIENT_OPTIONS, DaemonClient, EXIT, number, type FileEntry, type StatsBody } from './common.js';

export const STATUS_HELP = `usage: logflow status [--url URL] [--json]

Files, rates, errors and checkpoint age of a running daemon. The rate is measured over
one second (two looks at /api/stats).

${CLIENT_HELP}
`;

export async function status(argv: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: CLIENT_OPTIONS });
  if (values.help) {
    out.write(STATUS_HELP);
    return EXIT.ok;
  }
  const client = new DaemonClient(values.url, values.token);
  const first = await client.get<StatsBody>('/api/stats');
  const t0 = performance.now();
  await sleep(1000);
  const stats = await client.get<StatsBody>('/api/stats');
  const eventsPerSecond = Math.round(((stats.eventsIn - first.eventsIn) * 1000) / (performance.now() - t0));
  const failed = stats.files.failed > 0 ? (await client.get<{ files: FileEntry[] }>('/api/files?state=failed')).files : [];
  const failedFiles = failed.map((f) => ({ name: f.name, reason: f.reason }));
  if (values.json) {
    out.write(JSON.stringify({ url: client.url, ...stats, eventsPerSecond, failedFiles }) + '\n');
    return EXIT.ok;
  }
  const f = stats.files;
  const lines: [string, string][] = [
    ['daemon', `${client.url} (answering)`],
    ['files', `${number.format(f.pending)} pending, ${number.format(f.inProgress)} in progress, ${number.format(f.completed)} completed, ${number.format(f.failed)} failed`],
    ['events', `${number.format(stats.eventsIn)} in, ${number.format(stats.eventsCounted)} counted`],
    ['rate', `${number.format(eventsPerSecond)} events/s`],
    ['errors', `${number.format(stats.parseErrors)} parse errors, ${number.format(stats.historyOnlyEvents)} lines older than the live window (history only), ${number.format(stats.duplicates)} duplicates`],
  ];
  if (stats.window) lines.push(['window', `${number.format(stats.window.distinctUrls)} distinct URLs, last slide ${stats.window.lastSlideMs} ms`]);
  if (stats.channel) lines.push(['channel', `${number.format(stats.channel.size)} of ${number.format(stats.channel.capacity)} events`]);
  if (stats.checkpoint) {
    const age = stats.checkpoint.ageMs === null ? 'none written yet' : `${(stats.checkpoint.ageMs / 1000).toFixed(1)} s old`;
    lines.push(['checkpoint', `#${stats.checkpoint.seq}, ${age}`]);
  }
  for (const ff of failedFiles) lines.push(['failed', `${ff.name}: ${ff.reason ?? 'no reason given'}`]);
  out.write(lines.map(([k, v]) => `${k.padEnd(11)}${v}`).join('\n') + '\n');
  return EXIT.ok;
}
