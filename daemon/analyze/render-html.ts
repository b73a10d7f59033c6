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
    </dl>
    <ol id="bars-all" class="bars" aria-label="Most requested URLs of the whole input"></ol>
    <h2 id="peak-h" style="margin-top:16px">Busiest window <small id="peak-range">none</small></h2>
    <ol id="bars-peak" class="bars" aria-label="Most requested URLs of the busiest window"></ol>
  </section>
  <section class="card history" aria-labelledby="chart-h">
    <h2 id="chart-h">Events/s over the whole span</h2>
    <div id="chart" class="chart" role="img" aria-label="Events per second over the input's time span"></div>
  </section>
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
