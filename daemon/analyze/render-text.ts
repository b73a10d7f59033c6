import { number, table } from '../cli/common.js';
import type { UrlCount } from '../counts/top-k.js';
import type { FullReport } from './report.js';

const pct = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-');

function urlTable(urls: readonly UrlCount[], total: number): string {
  if (urls.length === 0) return '  (none)\n';
  const rows = [['#', 'count', 'share', 'URL']];
  urls.forEach((u, i) => rows.push([String(i + 1), number.format(u.count), pct(u.count, total), u.url]));
  return table(rows, new Set([0, 1, 2])).trimEnd().replace(/^/gm, '  ') + '\n';
}

/** The report as text, for a terminal. */
export function renderText({ report: r, details: d }: FullReport): string {
  const out: string[] = [];
  out.push(`${number.format(r.lines)} lines in ${r.files.length} file(s), read in ${d.seconds.toFixed(2)} s (${number.format(Math.round(r.lines / Math.max(d.seconds, 1e-3)))} lines/s)`);
  out.push(`parsed: ${number.format(r.parsed)} (${pct(r.parsed, r.lines)}), parse errors: ${number.format(r.parseErrors)} (log format ${d.logFormat}, ${d.time} time)`);
  for (const s of d.parseErrorSamples) out.push(`  ${s.file}:${s.line}: ${s.text}`);
  out.push(r.from ? `time span: ${r.from} .. ${r.to}` : 'time span: none (no line parsed)');
  if (d.late > 0) {
    out.push(`late: ${number.format(d.late)} line(s) more than ${d.watermarkSeconds} s older than a line before them: in the totals, not in any window`);
    if (r.files.length > 1) out.push('  (files are read in the order given: when their times overlap, the later files\' lines come late)');
  }
  out.push('', `top ${r.urls.length} URLs over the whole input:`, urlTable(r.urls, r.parsed));
  const w = r.peakWindow;
  if (w) {
    out.push(`busiest ${d.windowSeconds} s window (sliding by ${d.slideSeconds} s): ${w.start} .. ${w.end}, ${number.format(w.total)} lines`);
    out.push(urlTable(w.urls, w.total));
  } else out.push('busiest window: none (no line counted)', '');
  const rows = [['file', 'lines', 'parse errors', 'share parsed']];
  for (const f of r.files) rows.push([f.name, number.format(f.lines), number.format(f.parseErrors), pct(f.lines - f.parseErrors, f.lines)]);
  out.push(table(rows, new Set([1, 2, 3])));
  return out.join('\n');
}
