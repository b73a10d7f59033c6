import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FullReport } from './report.js';

const WEB_DIR = fileURLToPath(new URL('../../../web/', import.meta.url));
const require = createRequire(import.meta.url);

/** JSON safe inside a <script> element: no `</script>`, no `<!--`. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');
/** Text safe inside a <script> or <style> element. */
const inlineText = (text: string) => text.replace(/<\/(script|style)/gi, '<\\/$1');

/**
 * The page's own script: it draws the report from the inlined data with the dashboard's
 * classes (bars, figures, uPlot chart, tables). Text goes in with textContent only.
 */
const PAGE_SCRIPT = String.raw`
const { report: r, details: d } = JSON.parse(document.getElementById('report-data').textContent);
const fmt = new Intl.NumberFormat('en-US');
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
function bars(id, urls) {
  const max = Math.max(1, ...urls.map((u) => u.count));
  $(id).replaceChildren(...urls.map((u) => {
    const li = el('li');
    li.dataset.url = u.url;
    li.dataset.count = String(u.count);
    const fill = el('span', 'fill');
    fill.style.width = (100 * u.count / max) + '%';
    li.append(fill, el('span', 'url', u.url), el('span', 'count', fmt.format(u.count)));
    li.title = u.url;
    return li;
  }));
}
$('lines').textContent = fmt.format(r.lines);
$('parsed').textContent = fmt.format(r.parsed);
$('errors').textContent = fmt.format(r.parseErrors);
$('span').textContent = r.from ? r.from.replace('T', ' ').replace('.000Z', 'Z') + ' .. ' + r.to.replace('T', ' ').replace('.000Z', 'Z') : '–';
$('settings').textContent = d.logFormat + ' format, ' + d.time + ' time, window ' + d.windowSeconds + ' s sliding by ' + d.slideSeconds + ' s';
bars('bars-all', r.urls);
if (r.peakWindow) {
  $('peak-range').textContent = r.peakWindow.start + ' .. ' + r.peakWindow.end + ': ' + fmt.format(r.peakWindow.total) + ' lines';
  bars('bars-peak', r.peakWindow.urls);
}
$('files').tBodies[0].replaceChildren(...r.files.map((f) => {
  const tr = el('tr');
  tr.append(el('td', 'url', f.name), el('td', 'num', fmt.format(f.lines)), el('td', 'num', fmt.format(f.parseErrors)));
  return tr;
}));
$('samples').replaceChildren(...d.parseErrorSamples.map((s) => el('li', 'url', s.file + ':' + s.line + ': ' + s.text)));
$('samples-h').hidden = d.parseErrorSamples.length === 0;
const bytes = (n) => { const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return i === 0 ? n + ' B' : n.toFixed(2) + ' ' + u[i]; };
/** A table of keys with hits, visitors and bytes; the key's cell carries its share as a bar. */
function keysTable(title, items, first = 'Key') {
  const card = el('section', 'card');
  card.append(el('h2', '', title));
  const t = el('table', 'keys');
  const head = el('tr');
  for (const [h, cls] of [[first], ['Hits'], ['Visitors'], ['Bytes']]) head.append(el('th', cls, h));
  const thead = el('thead');
  thead.append(head);
  t.append(thead);
  const body = el('tbody');
  const max = Math.max(1, ...items.map((i) => i.count));
  for (const it of items) {
    const tr = el('tr');
    tr.dataset.key = it.key;
    const k = el('td', '', it.key);
    k.title = it.key;
    k.style.background = 'linear-gradient(90deg, var(--bar-bg) ' + (100 * it.count / max) + '%, transparent 0)';
    const v = el('td', it.visitors !== null && !it.visitorsExact ? 'est' : '', it.visitors === null ? '–' : fmt.format(it.visitors));
    tr.append(k, el('td', '', fmt.format(it.count)), v, el('td', '', bytes(it.bytes)));
    body.append(tr);
  }
  t.append(body);
  if (items.length === 0) card.append(el('p', 'empty', 'none'));
  else card.append(t);
  return card;
}
function drawPanels(p) {
  const sec = $('panels');
  sec.hidden = false;
  $('bytes').textContent = bytes(p.bytes);
  $('visitors').textContent = p.visitors === null ? '–' : (p.visitorsExact ? '' : '~') + fmt.format(p.visitors);
  $('notfound').textContent = fmt.format(p.notFoundUrls);
  const classes = p.statusClasses.map((c) => c.status + ' ' + fmt.format(c.count)).join(' · ');
  const status = keysTable('Status codes', p.statuses, 'Status');
  status.querySelector('h2').append(' ', el('small', '', classes));
  const days = keysTable('Visitors per day', p.days.map((d) => ({ key: d.day, count: d.requests, bytes: d.bytes, visitors: d.visitors, visitorsExact: d.visitorsExact })), 'Day');
  const hours = keysTable('Requests by hour of day', p.hours.map((h) => ({ key: String(h.hour).padStart(2, '0') + ':00', count: h.requests, bytes: h.bytes, visitors: null, visitorsExact: true })), 'Hour');
  const agents = p.agents > p.agentsParsed ? ' (the ' + fmt.format(p.agentsParsed) + ' most counted of ' + fmt.format(p.agents) + ' agents)' : '';
  sec.replaceChildren(status, keysTable('Not found (404) URLs', p.notFound, 'URL'), keysTable('Clients', p.clients, 'Client'), keysTable('Referrers', p.referrers, 'Referrer'),
    keysTable('Browsers' + agents, p.browsers, 'Browser'), keysTable('Operating systems' + agents, p.systems, 'System'), days, hours);
  sec.querySelectorAll('section').forEach((c, i) => (c.id = 'panel-' + ['status', 'notfound', 'clients', 'referrers', 'browsers', 'systems', 'days', 'hours'][i]));
}
if (d.panels) drawPanels(d.panels);
function drawChart() {
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const s = d.series;
  const xs = s.counts.map((_, i) => s.startMs / 1000 + i * s.stepSeconds);
  const ys = s.counts.map((c) => c / s.stepSeconds);
  const axis = { stroke: color('--muted'), grid: { stroke: color('--line'), width: 1 }, ticks: { stroke: color('--line') } };
  const chart = $('chart');
  chart.replaceChildren();
  if (xs.length === 0 || typeof uPlot === 'undefined') return;
  new uPlot({
    width: Math.max(260, chart.clientWidth), height: 220,
    series: [{}, { label: 'events/s', stroke: color('--accent'), width: 2, fill: color('--bar-bg'), value: (u, v) => (v === null ? '–' : fmt.format(Math.round(v * 10) / 10)) }],
    axes: [axis, { ...axis, size: 60 }],
    scales: { x: { time: true } },
    cursor: { drag: { x: false, y: false } },
  }, [xs, ys], chart);
}
drawChart();
let resizeTimer;
addEventListener('resize', () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(drawChart, 150); });
`;

const BODY = `
<header class="top"><h1>logflow analyze</h1><p class="conn" data-state="live" id="settings"></p></header>
<main id="main">
  <section class="card live" aria-labelledby="all-h">
    <h2 id="all-h">Top URLs over the whole input</h2>
    <dl class="figures">
      <div><dt>Lines</dt><dd id="lines">–</dd></div>
      <div><dt>Parsed</dt><dd id="parsed">–</dd></div>
      <div><dt>Parse errors</dt><dd id="errors">–</dd></div>
      <div><dt>Time span</dt><dd id="span" style="font-size:13px">–</dd></div>
      <div><dt>Bytes sent</dt><dd id="bytes">–</dd></div>
      <div><dt>Visitors</dt><dd id="visitors">–</dd></div>
      <div><dt>404 URLs</dt><dd id="notfound">–</dd></div>
    </dl>
    <ol id="bars-all" class="bars" aria-label="Most requested URLs of the whole input"></ol>
    <h2 id="peak-h" style="margin-top:16px">Busiest window <small id="peak-range">none</small></h2>
    <ol id="bars-peak" class="bars" aria-label="Most requested URLs of the busiest window"></ol>
  </section>
  <section class="card history" aria-labelledby="chart-h">
    <h2 id="chart-h">Events/s over the whole span</h2>
    <div id="chart" class="chart" role="img" aria-label="Events per second over the input's time span"></div>
  </section>
  <div id="panels" class="panels" hidden></div>
  <section class="card spool" aria-labelledby="files-h">
    <h2 id="files-h">Files</h2>
    <div class="scroll"><table id="files">
      <thead><tr><th scope="col">File</th><th scope="col" class="num">Lines</th><th scope="col" class="num">Parse errors</th></tr></thead>
      <tbody></tbody>
    </table></div>
    <h2 id="samples-h" style="margin-top:16px">Lines that did not parse (first 3)</h2>
    <ul id="samples"></ul>
  </section>
</main>`;

/** One self-contained page: the dashboard's style, uPlot and the data inlined; no request leaves it. */
export function renderHtml(full: FullReport): string {
  const css = readFileSync(WEB_DIR + 'style.css', 'utf8');
  const uplotCss = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  const uplotJs = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>logflow analyze: ${full.report.files.length} file(s), ${full.report.lines} lines</title>
<style>${inlineText(uplotCss)}</style>
<style>${inlineText(css)}</style>
</head>
<body>${BODY}
<script type="application/json" id="report-data">${scriptJson(full)}</script>
<script>${inlineText(uplotJs)}</script>
<script>${inlineText(PAGE_SCRIPT)}</script>
</body>
</html>
`;
}
