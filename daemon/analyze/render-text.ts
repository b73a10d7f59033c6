import { number, table } from '../text-table.js';
import type { UrlCount } from '../counts/top-k.js';
import type { TopItem } from '../counts/dimension-window.js';
import type { FullReport } from './report.js';

const pct = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-');

function urlTable(urls: readonly UrlCount[], total: number): string {
  if (urls.length === 0) return '  (none)\n';
  const rows = [['#', 'count', 'share', 'URL']];
  urls.forEach((u, i) => rows.push([String(i + 1), number.format(u.count), pct(u.count, total), u.url]));
  return table(rows, new Set([0, 1, 2])).trimEnd().replace(/^/gm, '  ') + '\n';
}

/** Bytes as a person reads them: 2.56 GiB. */
export function byteSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${n.toFixed(2)} ${units[i]}`;
}

function itemTable(items: readonly TopItem[], total: number): string {
  if (items.length === 0) return '  (none)\n';
  const rows = [['#', 'count', 'share', 'bytes', 'visitors', 'key']];
  items.forEach((it, i) =>
    rows.push([String(i + 1), number.format(it.count), pct(it.count, total), byteSize(it.bytes), it.visitors === null ? '-' : `${it.visitorsExact ? '' : '~'}${number.format(it.visitors)}`, it.key]),
  );
  return table(rows, new Set([0, 1, 2, 3, 4])).trimEnd().replace(/^/gm, '  ') + '\n';
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
  if (r.bytes !== undefined) {
    const v = r.visitors === null || r.visitors === undefined ? '' : `, ${r.visitorsExact ? '' : '~'}${number.format(r.visitors)} distinct clients${r.visitorsExact ? '' : ` (estimated, ±${(100 * 0.0163).toFixed(1)}%)`}`;
    out.push(`bytes sent: ${byteSize(r.bytes)}${v}`);
  }
  out.push('', `top ${r.urls.length} URLs over the whole input:`, urlTable(r.urls, r.parsed));
  for (const [dim, items] of Object.entries(r.by ?? {})) {
    out.push(`top ${items.length} by ${dim}${r.status ? `, status ${r.status}` : ''} (share of all lines; ~: visitors estimated):`, itemTable(items, r.parsed));
  }
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
