// logflow dashboard: plain JS, no build step. Live figures come from /api/stream
// (Server-Sent Events read with fetch, so a bearer token can be sent), history from
// /api/top, /api/series and /api/urls/:url/series.
'use strict';

const $ = (id) => document.getElementById(id);
const fmt = new Intl.NumberFormat();
const TOKEN_KEY = 'logflow-token';

// ---- token: ?token= once (then dropped from the address bar), or asked for on a 401 ----
(function takeTokenFromAddress() {
  const params = new URLSearchParams(location.search);
  if (!params.has('token')) return;
  sessionStorage.setItem(TOKEN_KEY, params.get('token'));
  params.delete('token');
  const rest = params.toString();
  history.replaceState(null, '', location.pathname + (rest ? '?' + rest : '') + location.hash);
})();

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { authorization: 'Bearer ' + token } : {};
}

class Unauthorized extends Error {}

function askForToken(message) {
  $('auth').hidden = false;
  $('auth-error').textContent = message || '';
  $('token-input').focus();
}

$('auth').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token-input').value.trim());
  $('auth').hidden = true;
  connectStream();
  loadRange();
});

async function api(path) {
  const res = await fetch(path, { headers: authHeaders() });
  if (res.status === 401) {
    askForToken(sessionStorage.getItem(TOKEN_KEY) ? 'That token was refused.' : '');
    throw new Unauthorized(path);
  }
  const body = await res.json();
  if (!res.ok) throw new Error(body.message || res.statusText);
  return body;
}

// ---- theme ----
$('theme').addEventListener('click', () => {
  const dark = getComputedStyle(document.documentElement).colorScheme.includes('dark');
  const next = dark ? 'light' : 'dark';
  document.documentElement.dataset.theme = next;
  try { localStorage.setItem('logflow-theme', next); } catch {}
  drawChart();
});

// ---- live: the stream ----
let streamAbort;
let reconnectTimer;

function setConn(state, text) {
  $('conn').dataset.state = state;
  $('conn').textContent = text;
}

// "live" only while lines arrive (some in the last few seconds); "idle since" the last one
// otherwise. The stream being open is data-stream, not what the dot says.
const LIVE_FOR_MS = 5000;
let lastEventsIn;
let lastArrival;
function showActivity(s) {
  if (lastEventsIn !== undefined && s.eventsIn > lastEventsIn) lastArrival = Date.now();
  lastEventsIn = s.eventsIn;
  const since = s.lastEventAt ? Date.parse(s.lastEventAt) : lastArrival;
  const arriving = (lastArrival !== undefined && Date.now() - lastArrival < LIVE_FOR_MS) || (since !== undefined && Date.now() - since < LIVE_FOR_MS && s.eventsPerSecond > 0);
  if (arriving) setConn('live', 'live');
  else setConn('idle', since === undefined ? 'idle: no lines since the start' : 'idle since ' + time(since));
}

async function connectStream() {
  streamAbort?.abort();
  clearTimeout(reconnectTimer);
  const abort = (streamAbort = new AbortController());
  try {
    const res = await fetch('/api/stream', { headers: authHeaders(), signal: abort.signal });
    if (res.status === 401) {
      setConn('down', 'token needed');
      askForToken(sessionStorage.getItem(TOKEN_KEY) ? 'That token was refused.' : '');
      return;
    }
    if (!res.ok || !res.body) throw new Error('stream answered ' + res.status);
    $('conn').dataset.stream = 'open';
    setConn('idle', 'connected');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let end;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        onMessage(buffered.slice(0, end));
        buffered = buffered.slice(end + 2);
      }
    }
  } catch (err) {
    if (abort.signal.aborted) return;
  }
  $('conn').dataset.stream = 'closed';
  setConn('down', 'reconnecting…');
  reconnectTimer = setTimeout(connectStream, 2000);
}

function onMessage(block) {
  let event = 'message';
  let data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data += line.slice(6);
  }
  if (!data) return;
  const body = JSON.parse(data);
  if (event === 'top') renderTop(body);
  else if (event === 'stats') renderStats(body);
  else if (event === 'files') renderFiles(body.files);
  else if (event === 'followed') renderFollowed(body.files);
}

// One time format everywhere (the live window, the history, the chart): 24-hour local
// time, with the date in front when it is not today, e.g. 14:05:09 or 2026-11-26 14:05:09.
const pad = (n) => String(n).padStart(2, '0');
function time(when) {
  const d = new Date(when);
  const clock = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  const day = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
  const now = new Date();
  const today = now.getFullYear() + '-' + pad(now.getMonth() + 1) + '-' + pad(now.getDate());
  return day === today ? clock : day + ' ' + clock;
}

function duration(seconds) {
  if (seconds < 120) return seconds + ' s';
  if (seconds < 7200) return Math.round(seconds / 60) + ' min';
  return Math.round(seconds / 3600) + ' h';
}

// Until the first message, the page says it is loading: "no events yet" would be a claim.
function loaded(id, html) {
  const el = $(id);
  if (el.dataset.state !== 'loading') return;
  el.dataset.state = 'ready';
  el.innerHTML = html;
}

function renderTop(top) {
  loaded('bars-empty', following
    ? 'No events in the window yet: no new lines in the followed files.'
    : 'No events in the window yet: drop a log into the spool (<code>npx logflow drop FILE</code>).');
  $('win-len').textContent = '(last ' + duration(top.windowSeconds) + ')';
  $('win-total').textContent = fmt.format(top.total);
  $('win-urls').textContent = fmt.format(top.distinctUrls);
  $('win-range').textContent = top.window ? time(top.window.start) + ' – ' + time(top.window.end) : '–';
  const bars = $('bars');
  const max = top.urls.length ? top.urls[0].count : 1;
  while (bars.children.length > top.urls.length) bars.lastChild.remove();
  top.urls.forEach((u, i) => {
    let li = bars.children[i];
    if (!li) {
      li = document.createElement('li');
      li.innerHTML = '<span class="fill"></span><span class="url"></span><span class="count"></span>';
      bars.append(li);
    }
    li.dataset.url = u.url;
    li.dataset.count = String(u.count);
    li.title = u.url;
    li.querySelector('.url').textContent = u.url;
    li.querySelector('.count').textContent = fmt.format(u.count);
    li.querySelector('.fill').style.width = ((u.count / max) * 100).toFixed(1) + '%';
  });
}

// An agent that follows live files (TAILDIR): the empty messages say so.
let following = false;

function renderStats(s) {
  following = Boolean(s.followed);
  // An agent without a job (an edge with HTTP) sends no window: say so instead of loading.
  if (!s.window) loaded('bars-empty', 'This agent runs no job: it counts no URLs (its files and rates are below).');
  $('rate').textContent = s.eventsPerSecond === null ? '–' : fmt.format(s.eventsPerSecond);
  $('f-pending').textContent = fmt.format(s.files.pending);
  $('f-progress').textContent = fmt.format(s.files.inProgress);
  $('f-completed').textContent = fmt.format(s.files.completed);
  $('f-failed').textContent = fmt.format(s.files.failed);
  $('parse-errors').textContent = fmt.format(s.parseErrors);
  $('history-only').textContent = fmt.format(s.historyOnlyEvents);
  $('duplicates').textContent = fmt.format(s.duplicates);
  const age = s.checkpoint?.ageMs;
  $('checkpoint-age').textContent = age === null || age === undefined ? '–' : (age / 1000).toFixed(1) + ' s';
  showActivity(s);
}

function renderFiles(files) {
  loaded('files-empty', following ? 'No spooled files (this agent follows live files: see Followed files).' : 'No files yet.');
  const body = $('files').tBodies[0];
  $('files-empty').hidden = files.length > 0;
  const rows = files.map((f) => {
    const tr = document.createElement('tr');
    tr.dataset.name = f.name;
    tr.dataset.state = f.state;
    const name = document.createElement('td');
    name.className = 'url';
    name.textContent = f.name;
    name.title = f.name;
    const state = document.createElement('td');
    state.className = 'state-' + f.state;
    state.textContent = f.state === 'reading' ? 'in progress' : f.state;
    for (const [note, cls] of [[f.reason, 'reason'], [f.warning, 'reason'], [f.note, 'note']]) {
      if (!note) continue;
      const why = document.createElement('div');
      why.className = cls;
      why.textContent = note;
      state.append(why);
    }
    // A failed or mostly-unparsed file links to `logflow check`'s explanation.
    if (f.state === 'failed' || (f.parseErrors > 0 && f.parseErrors * 2 > f.lines)) {
      const why = document.createElement('button');
      why.type = 'button';
      why.className = 'ghost why';
      why.textContent = 'why?';
      why.setAttribute('aria-label', 'Why ' + f.name + ' does not parse');
      why.addEventListener('click', () => showCheck(f.name));
      state.append(' ', why);
    }
    const progress = document.createElement('td');
    const bar = document.createElement('progress');
    bar.max = Math.max(1, f.size);
    bar.value = f.state === 'completed' ? bar.max : f.bytesRead;
    bar.setAttribute('aria-label', f.name + ': ' + fmt.format(f.bytesRead) + ' of ' + fmt.format(f.size) + ' bytes');
    progress.append(bar);
    const lines = document.createElement('td');
    lines.className = 'num';
    lines.textContent = fmt.format(f.lines);
    const errors = document.createElement('td');
    errors.className = 'num';
    errors.textContent = f.parseErrors === null ? '–' : fmt.format(f.parseErrors);
    tr.append(name, state, progress, lines, errors);
    return tr;
  });
  body.replaceChildren(...rows);
}

// The files TAILDIR sources follow: the card shows only when there are some.
function renderFollowed(files) {
  $('followed-card').hidden = files.length === 0;
  const rows = files.map((f) => {
    const tr = document.createElement('tr');
    tr.dataset.path = f.path;
    tr.dataset.state = f.state;
    tr.dataset.lag = String(f.lagBytes);
    const name = document.createElement('td');
    name.className = 'url';
    name.textContent = f.path;
    name.title = f.path;
    const state = document.createElement('td');
    state.className = 'state-' + f.state;
    state.textContent = f.state;
    if (f.reason) {
      const why = document.createElement('div');
      why.className = f.state === 'unreadable' ? 'reason' : 'note';
      why.textContent = f.reason;
      state.append(why);
    }
    const cells = [name, state];
    for (const n of [f.position, f.size, f.lagBytes, f.lines]) {
      const td = document.createElement('td');
      td.className = 'num';
      td.textContent = fmt.format(n);
      cells.push(td);
    }
    cells[4].textContent += ' B';
    tr.append(...cells);
    return tr;
  });
  $('followed').tBodies[0].replaceChildren(...rows);
}

/** `GET /api/files/:name/check` as `logflow check` prints it, in a dialog over the page. */
async function showCheck(name) {
  let dialog = $('check');
  if (!dialog) {
    dialog = document.createElement('dialog');
    dialog.id = 'check';
    dialog.className = 'card';
    document.body.append(dialog);
  }
  const close = document.createElement('button');
  close.type = 'button';
  close.textContent = 'Close';
  close.addEventListener('click', () => dialog.close());
  const pre = document.createElement('pre');
  try {
    const r = await api('/api/files/' + encodeURIComponent(name) + '/check');
    const pct = (s) => (Math.floor(s * 1000) / 10).toFixed(1) + '%';
    const timeless = r.noEventTime.lines > 0 ? [fmt.format(r.noEventTime.lines) + ' parsed lines have no time event time can read (line ' + r.noEventTime.first + ' first)'] : [];
    pre.textContent = [r.file + ': ' + fmt.format(r.lines) + ' lines checked', ...r.formats.map((f) => f.format + ': ' + pct(f.share)), ...timeless, '',
      ...r.failures.flatMap((f) => ['line ' + f.line + ', byte ' + f.byte + ':', '  ' + f.text, '  ' + ' '.repeat(f.column) + '^ ' + f.field + ': ' + f.expected])].join('\n');
  } catch (err) {
    pre.textContent = err.message;
  }
  dialog.replaceChildren(close, pre);
  if (!dialog.open) dialog.showModal();
}

// ---- history: range picker, chart, range top ----
let range = { seconds: 3600 };
let chart;
let chartData;
let historyTimer;

for (const button of document.querySelectorAll('[data-range]')) {
  button.addEventListener('click', () => {
    for (const b of document.querySelectorAll('[data-range]')) b.setAttribute('aria-pressed', String(b === button));
    const custom = button.dataset.range === 'custom';
    $('custom').hidden = !custom;
    if (custom) {
      const to = new Date();
      const from = new Date(to.getTime() - (range.seconds ?? 3600) * 1000);
      if (!$('from').value) $('from').value = localInput(from);
      if (!$('to').value) $('to').value = localInput(to);
      $('from').focus();
      return;
    }
    range = button.dataset.range === 'all' ? { all: true } : { seconds: Number(button.dataset.range) };
    loadRange();
  });
}

function localInput(d) {
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 19);
}

$('custom').addEventListener('submit', (e) => {
  e.preventDefault();
  const from = new Date($('from').value);
  const to = new Date($('to').value);
  if (!(from < to)) {
    $('custom-error').textContent = 'From must be before To.';
    return;
  }
  $('custom-error').textContent = '';
  range = { from: from.toISOString(), to: to.toISOString() };
  loadRange();
});

$('url-pick').addEventListener('change', () => loadRange());

async function currentRange() {
  if (range.from) return { from: range.from, to: range.to };
  if (range.all) {
    // The history's own span, whole days around it (a preset that follows the data, not the clock).
    const h = await api('/api/history');
    if (!h.from) return undefined;
    const day = 86_400_000;
    return { from: new Date(Math.floor(Date.parse(h.from) / day) * day).toISOString(), to: new Date(Math.ceil(Date.parse(h.to) / day) * day).toISOString() };
  }
  // Whole seconds, so the page and anyone checking it ask for the same range.
  const to = Math.floor(Date.now() / 1000) * 1000;
  return { from: new Date(to - range.seconds * 1000).toISOString(), to: new Date(to).toISOString() };
}

let loadSeq = 0;

async function loadRange() {
  clearTimeout(historyTimer);
  const seq = ++loadSeq;
  try {
    const asked = await currentRange();
    if (seq !== loadSeq) return;
    if (!asked) throw new Error('it is empty: drop a log into the spool');
    const { from, to } = asked;
    const q = 'from=' + encodeURIComponent(from) + '&to=' + encodeURIComponent(to);
    const [top, totals] = await Promise.all([api('/api/top?n=20&' + q), api('/api/series?' + q)]);
    if (seq !== loadSeq) return;
    const picked = $('url-pick').value || top.urls[0]?.url;
    const urlSeries = picked
      ? await api('/api/urls/' + encodeURIComponent(picked) + '/series?' + q + '&step=' + totals.step)
      : undefined;
    if (seq !== loadSeq) return;
    renderRangeTop(top, from, to);
    fillUrlPicker(top.urls, picked);
    chartData = toChartData(totals, urlSeries);
    drawChart();
  } catch (err) {
    if (err instanceof Unauthorized) return;
    $('range-summary').textContent = 'Could not load the history: ' + err.message;
  }
  // A preset range follows the clock (or, for all of it, the data); a custom one stays as asked.
  if (!range.from && seq === loadSeq) historyTimer = setTimeout(loadRange, 10_000);
}

function renderRangeTop(top, from, to) {
  const table = $('range-top');
  table.dataset.from = from;
  table.dataset.to = to;
  table.dataset.total = String(top.total);
  $('range-summary').textContent = fmt.format(top.total) + ' events from ' + time(from) + ' to ' + time(to);
  const rows = top.urls.map((u, i) => {
    const tr = document.createElement('tr');
    tr.dataset.url = u.url;
    tr.dataset.count = String(u.count);
    const share = top.total ? ((u.count / top.total) * 100).toFixed(1) + '\u00a0%' : '–';
    for (const [text, cls] of [[String(i + 1), ''], [u.url, 'url'], [fmt.format(u.count), 'num'], [share, 'num']]) {
      const td = document.createElement('td');
      td.textContent = text;
      if (cls) td.className = cls;
      tr.append(td);
    }
    return tr;
  });
  table.tBodies[0].replaceChildren(...rows);
}

function fillUrlPicker(urls, picked) {
  const select = $('url-pick');
  const options = [new Option('(top URL of the range)', '')];
  const names = urls.map((u) => u.url);
  if (select.value && !names.includes(select.value)) names.unshift(select.value);
  for (const url of names) options.push(new Option(url, url));
  const keep = select.value;
  select.replaceChildren(...options);
  select.value = keep;
  select.dataset.shown = picked || '';
}

/** Counts per second, minute, hour or day: whichever reads as a number for the range's step. */
function rateUnit(stepS) {
  return stepS >= 86_400 ? ['day', 86_400] : stepS >= 3600 ? ['h', 3600] : stepS >= 60 ? ['min', 60] : ['s', 1];
}

function toChartData(totals, urlSeries) {
  const [unit, per] = rateUnit(totals.step);
  const xs = totals.points.map((p) => Date.parse(p.start) / 1000);
  const rate = totals.points.map((p) => (p.count / totals.step) * per);
  const url = urlSeries ? urlSeries.points.map((p) => (p.count / urlSeries.step) * per) : xs.map(() => null);
  return { data: [xs, rate, url], label: urlSeries ? urlSeries.url : 'no URL', unit };
}

function drawChart() {
  if (!chartData || typeof uPlot === 'undefined') return;
  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const el = $('chart');
  const width = Math.max(260, el.clientWidth);
  const axis = { stroke: color('--muted'), grid: { stroke: color('--line'), width: 1 }, ticks: { stroke: color('--line') } };
  const opts = {
    width,
    height: 220,
    series: [
      { value: (u, v) => (v === null ? '–' : time(v * 1000)) },
      { label: 'events/' + chartData.unit, stroke: color('--accent'), width: 2, fill: color('--bar-bg'), value: (u, v) => (v === null ? '–' : fmt.format(Math.round(v * 10) / 10)) },
      { label: chartData.label + ' /' + chartData.unit, stroke: color('--accent-2'), width: 2, value: (u, v) => (v === null ? '–' : fmt.format(Math.round(v * 100) / 100)) },
    ],
    // Labels as long as the ticks' step needs (years, months, days, hours, seconds), at
    // least 100 px apart: the widest, 'MM-DD HH:MM', is about 75 px.
    axes: [{ ...axis, space: 100, values: (u, splits, _i, _space, incr) => splits.map((s) => tickLabel(s * 1000, incr, u.scales.x.max - u.scales.x.min)) }, { ...axis, size: 60 }],
    scales: { x: { time: true } },
    cursor: { drag: { x: false, y: false } },
  };
  chart?.destroy();
  chart = new uPlot(opts, chartData.data, el);
}

const DAY_S = 86_400;
/** An x-axis label for a tick `incrS` seconds from the next, over a range of `spanS` seconds. */
function tickLabel(ms, incrS, spanS) {
  const d = new Date(ms);
  const ymd = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
  if (incrS >= 360 * DAY_S) return String(d.getFullYear());
  if (incrS >= 28 * DAY_S) return d.getFullYear() + '-' + pad(d.getMonth() + 1);
  if (incrS >= DAY_S) return ymd;
  const hm = pad(d.getHours()) + ':' + pad(d.getMinutes());
  const clock = incrS >= 60 ? hm : hm + ':' + pad(d.getSeconds());
  return spanS > DAY_S ? ymd.slice(5) + ' ' + clock : clock;
}

matchMedia('(prefers-color-scheme: dark)').addEventListener('change', drawChart);

let resizeTimer;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => chart?.setSize({ width: Math.max(260, $('chart').clientWidth), height: 220 }), 150);
});

// ---- breakdown: the live window or the range above by any dimension and status, and GoAccess's panels ----
const bytes = (n) => { const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB']; let i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return i === 0 ? n + ' B' : n.toFixed(2) + ' ' + u[i]; };
let dimensions = [];

/** Rows of keys with hits, visitors (~ when estimated) and bytes, each key's cell with its share as a bar. */
function keyRows(items) {
  const max = Math.max(1, ...items.map((i) => i.count));
  return items.map((it) => {
    const tr = document.createElement('tr');
    tr.dataset.key = it.key;
    const cells = [it.key, fmt.format(it.count), it.visitors === null ? '–' : fmt.format(it.visitors), bytes(it.bytes)];
    cells.forEach((text, i) => {
      const td = document.createElement('td');
      td.textContent = text;
      if (i === 0) {
        td.title = it.key;
        td.style.background = 'linear-gradient(90deg, var(--bar-bg) ' + ((100 * it.count) / max).toFixed(1) + '%, transparent 0)';
      }
      if (i === 2 && it.visitors !== null && !it.visitorsExact) td.className = 'est';
      tr.append(td);
    });
    return tr;
  });
}

function topPath(by, status, n, scope) {
  return '/api/top?by=' + encodeURIComponent(by) + '&n=' + n + (status ? '&status=' + encodeURIComponent(status) : '') + scope;
}

/**
 * What the breakdown and the panels count: '' for the live window, or the range card's range
 * as `&from=&to=` (the history by the lines' own time: hits, visitors and bytes); undefined
 * when the history is empty.
 */
async function scopeQuery() {
  const live = $('scope-pick').value !== 'range';
  $('by-scope').textContent = live ? 'live window' : 'range of the history';
  if (live) return '';
  const r = await currentRange();
  return r ? '&from=' + encodeURIComponent(r.from) + '&to=' + encodeURIComponent(r.to) : undefined;
}

async function loadBreakdown() {
  const by = $('by-pick').value;
  if (!by) return;
  const status = $('status-pick').value;
  try {
    const scope = await scopeQuery();
    if (scope === undefined) throw new Error('The history is empty: drop a log into the spool.');
    const top = await api(topPath(by, status, 20, scope));
    loaded('by-empty', '');
    $('by-table').tBodies[0].replaceChildren(...keyRows(top.items));
    $('by-table').dataset.scope = scope ? 'range' : 'live';
    $('by-empty').hidden = top.items.length > 0;
    $('by-empty').textContent = 'No lines' + (status ? ' of status ' + status : '') + (scope ? ' in the range.' : ' in the window.');
    const approx = top.approximate ? ' · counts may be short by up to ' + fmt.format(top.errorBound) + ' (keys past maxKeys were dropped)' : '';
    $('by-note').textContent = fmt.format(top.total) + ' lines' + (status ? ' of ' + status : '') + ', ' + fmt.format(top.keys) + ' keys' + approx;
  } catch (err) {
    if (!(err instanceof Unauthorized)) $('by-note').textContent = err.message;
  }
}

/** The panels the job's dimensions allow, each a query of the live window or of the range. */
function panelQueries() {
  const has = (d) => dimensions.includes(d);
  return [
    has('status') && { id: 'status', title: 'Status codes', by: 'status', first: 'Status' },
    has('url') && { id: 'notfound', title: 'Not found (404) URLs', by: 'url', status: '404', first: 'URL' },
    has('client') && { id: 'clients', title: 'Clients', by: 'client', first: 'Client' },
    has('referrer') && { id: 'referrers', title: 'Referrers', by: 'referrer', first: 'Referrer' },
    has('agent') && { id: 'browsers', title: 'Browsers', by: 'agent', group: 'browser', first: 'Browser' },
    has('agent') && { id: 'systems', title: 'Operating systems', by: 'agent', group: 'os', first: 'System' },
  ].filter(Boolean);
}

/** ua-parser-js, loaded only when the job counts agents. */
let uaParser;
function loadUaParser() {
  uaParser ??= new Promise((resolve) => {
    const script = document.createElement('script');
    script.src = '/dashboard/ua-parser.min.js';
    script.onload = () => resolve(window.UAParser);
    script.onerror = () => resolve(undefined);
    document.head.append(script);
  });
  return uaParser;
}

/** Agents' rows grouped by browser or system (visitors of a group are not the sum of its agents': left out). */
function grouped(items, kind, Parser) {
  const groups = new Map();
  for (const it of items) {
    const r = Parser ? new Parser(it.key === '-' ? '' : it.key) : undefined;
    const name = (kind === 'browser' ? r?.getBrowser().name : r?.getOS().name) || 'Unknown';
    const g = groups.get(name) ?? { key: name, count: 0, bytes: 0, visitors: null, visitorsExact: true };
    g.count += it.count;
    g.bytes += it.bytes;
    groups.set(name, g);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1)).slice(0, 10);
}

async function loadPanels() {
  const panels = $('panels');
  for (const q of panelQueries()) {
    let card = $('panel-' + q.id);
    if (!card) {
      card = document.createElement('section');
      card.className = 'card';
      card.id = 'panel-' + q.id;
      card.innerHTML = '<h2></h2><table class="keys"><thead><tr><th scope="col"></th><th scope="col">Hits</th><th scope="col">Visitors</th><th scope="col">Bytes</th></tr></thead><tbody></tbody></table>';
      card.querySelector('h2').textContent = q.title;
      card.querySelector('th').textContent = q.first;
      panels.append(card);
    }
    try {
      const scope = await scopeQuery();
      if (scope === undefined) return;
      const top = await api(topPath(q.by, q.status, q.group ? 1000 : 10, scope));
      const items = q.group ? grouped(top.items, q.group, await loadUaParser()) : top.items;
      card.querySelector('tbody').replaceChildren(...keyRows(items));
      card.dataset.scope = scope ? 'range' : 'live';
    } catch (err) {
      if (err instanceof Unauthorized) return;
    }
  }
}

async function startBreakdown() {
  try {
    const d = await api('/api/dimensions');
    dimensions = d.dimensions;
    const pick = $('by-pick');
    pick.replaceChildren(...dimensions.map((n) => new Option(n, n)));
    pick.value = d.default;
  } catch (err) {
    if (!(err instanceof Unauthorized)) loaded('by-empty', 'This agent runs no job: nothing to break down.');
    return;
  }
  const refresh = () => {
    if (document.hidden) return;
    void loadBreakdown();
    void loadPanels();
  };
  $('by-pick').addEventListener('change', loadBreakdown);
  $('status-pick').addEventListener('change', loadBreakdown);
  $('scope-pick').addEventListener('change', refresh);
  refresh();
  setInterval(refresh, 2000);
}

connectStream();
loadRange();
startBreakdown();
