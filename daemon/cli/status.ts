import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { bytes, CLIENT_HELP, CLIENT_OPTIONS, DaemonClient, EXIT, number, table, type FileEntry, type FollowedEntry, type StatsBody } from './common.js';

export const STATUS_HELP = `usage: logflow status [--url URL] [--json]

Files, rates, errors and checkpoint age of a running daemon, and the files its TAILDIR
sources follow (position, size and lag in bytes). The rate is measured over one second
(two looks at /api/stats).

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
  const followed = stats.followed ? (await client.get<{ files: FollowedEntry[] }>('/api/followed')).files.filter((f) => !f.path.endsWith('.gz')) : [];
  if (values.json) {
    const followedFiles = followed.map((f) => ({ path: f.path, state: f.state, position: f.position, size: f.size, lagBytes: f.lagBytes }));
    out.write(JSON.stringify({ url: client.url, ...stats, eventsPerSecond, failedFiles, ...(stats.followed && { followedFiles }) }) + '\n');
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
  if (stats.resultsWaiting) lines.push(['results', `${number.format(stats.resultsWaiting)} waiting for the database`]);
  if (stats.resultsDatabase) {
    const db = stats.resultsDatabase;
    lines.push(['database', `PostgreSQL, ${db.up ? 'connected' : 'not reachable: reconnecting'}${db.retries > 0 ? ` (${number.format(db.retries)} reconnects)` : ''}`]);
  }
  if (stats.followed) lines.push(['followed', `${number.format(stats.followed.files)} files, ${bytes(stats.followed.lagBytes)} not read yet`]);
  for (const ff of failedFiles) lines.push(['failed', `${ff.name}: ${ff.reason ?? 'no reason given'}`]);
  out.write(lines.map(([k, v]) => `${k.padEnd(11)}${v}`).join('\n') + '\n');
  if (followed.length > 0) {
    const rows = [['file', 'state', 'position', 'size', 'lag'], ...followed.map((f) => [f.path, f.state, number.format(f.position), number.format(f.size), `${number.format(f.lagBytes)} B`])];
    out.write('\n' + table(rows, new Set([2, 3, 4])));
  }
  return EXIT.ok;
}
