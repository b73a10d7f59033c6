#!/usr/bin/env node
/**
 * The job's window alone, in process, on the memory bench's logs: what each part holds at a
 * million URLs, and how long a slide takes, without a daemon (a bench run of the memory
 * row takes minutes, and on a loaded box its window holds only what came in 300 s).
 *
 *   node dist/scripts/gen-access-log.js ... (or the bench's own files), then
 *   node --expose-gc dist/scripts/window-probe.js BIG.log [TRICKLE.log ...] [--per 150000] [--profile FILE]
 *
 * Lines enter the window (`url status`, with visitors, as the default job counts them)
 * `--per` to a slot; every line is also counted by its own second for the history, as in
 * processing time; each slot's bytes are taken as a checkpoint takes them. Prints the
 * window's own accounting (`WindowSet.heldBytes`), the process's memory, each trickle
 * file's slide (enter, leave, top 100) and a digest of the tops, to compare two builds.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { KeyHash } from '../daemon/counts/key-hash.js';
import { ANY_STATUS } from '../daemon/counts/dimension-window.js';
import { WindowSet, type BatchSet } from '../daemon/counts/window-set.js';

const args = process.argv.slice(2);
const per = args.includes('--per') ? Number(args[args.indexOf('--per') + 1]) : 150_000;
/** `--profile FILE`: a CPU profile (.cpuprofile) of the trickle slides alone. */
const profile = args.includes('--profile') ? args[args.indexOf('--profile') + 1] : undefined;
const files = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--per' && args[i - 1] !== '--profile');
const window = new WindowSet([
  { name: 'url', field: 0, visitors: true, maxKeys: 0 },
  { name: 'status', field: 1, visitors: true, maxKeys: 0 },
], 300);
const hash = new KeyHash();
const mb = (n: number) => `${(n / 1048576).toFixed(0)} MB`;
let peakRss = 0;
let slot = 0;
let batch = window.openBatch();
let inBatch = 0;
const history = new Map<number, BatchSet>();
let historyLines = 0;
const tops: unknown[] = [];
/** Each slide's CPU ms (the process's: on a loaded box, wall time counts the waits for a core too). */
const slideCpuMs: number[] = [];

function flushHistory(): void {
  for (const k of [...history.keys()].sort((a, b) => a - b)) {
    window.encodeBatch(history.get(k)!);
    window.pass(history.get(k)!);
  }
  history.clear();
  historyLines = 0;
}

/** Closes the open slot into the window; returns the slide's ms (enter, leave, top 100). */
function close(): number {
  const started = performance.now();
  const cpu = process.cpuUsage();
  window.advance(slot, batch, inBatch);
  const top = window.top('url', 100, ANY_STATUS);
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  slideCpuMs.push((used.user + used.system) / 1000);
  if (slot % 7 === 0) tops.push(top.items.slice(0, 20));
  window.releaseEmptied();
  window.encodeSlot(slot); // (the checkpoint's bytes)
  window.slotSaved(slot);
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  slot++;
  batch = window.openBatch();
  inBatch = 0;
  return ms;
}

/** Counts a combined-format file, `perSlot` lines a slot; returns the slides' ms. */
function feed(file: string, perSlot: number): number[] {
  const slides: number[] = [];
  const fd = openSync(file, 'r');
  const chunk = Buffer.allocUnsafe(1 << 22);
  let rest = Buffer.alloc(0);
  for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0;) {
    const data = Buffer.concat([rest, chunk.subarray(0, n)]);
    let s = 0;
    for (let e = data.indexOf(10, s); e !== -1; s = e + 1, e = data.indexOf(10, s)) {
      // host - user [dd/Mon/yyyy:HH:MM:SS +0000] "METHOD URL HTTP/1.1" status size ...
      const hostEnd = data.indexOf(32, s);
      const u0 = data.indexOf(32, data.indexOf(34, s)) + 1;
      const u1 = data.indexOf(32, u0);
      const st = data.indexOf(34, u1) + 2;
      const code = (data[st]! - 48) * 100 + (data[st + 1]! - 48) * 10 + (data[st + 2]! - 48);
      let bytes = 0;
      for (let p = st + 4; data[p]! >= 48 && data[p]! <= 57; p++) bytes = bytes * 10 + data[p]! - 48;
      const t = data.indexOf(91, s) + 13;
      const own = ((data[t]! - 48) * 10 + data[t + 1]! - 48) * 3600 + ((data[t + 3]! - 48) * 10 + data[t + 4]! - 48) * 60 + (data[t + 6]! - 48) * 10 + data[t + 7]! - 48;
      hash.of(data, s, hostEnd);
      const url = window.dims[0]!.keys.id(data, u0, u1);
      const status = window.dims[1]!.keys.id(data, st, st + 3);
      for (const b of [batch, history.get(own) ?? history.set(own, window.openBatch()).get(own)!]) {
        b.dims[0]!.add(url, code, hash.hi, hash.lo, bytes);
        b.dims[1]!.add(status, code, hash.hi, hash.lo, bytes);
      }
      if (++historyLines >= 200_000) flushHistory();
      if (++inBatch >= perSlot) slides.push(close());
    }
    rest = Buffer.from(data.subarray(s));
  }
  closeSync(fd);
  flushHistory();
  if (inBatch > 0) slides.push(close());
  return slides;
}

const [big, ...trickles] = files;
if (!big) throw new Error('usage: window-probe.js BIG.log [TRICKLE.log ...] [--per LINES]');
const started = performance.now();
feed(big, per);
globalThis.gc?.();
const m = process.memoryUsage();
console.log(`${big}: ${window.size} keys, ${window.total} lines in the window, ${((performance.now() - started) / 1000).toFixed(1)} s`);
console.log(`held: ${Object.entries(window.heldBytes()).filter(([, v]) => v >= 1048576).map(([k, v]) => `${k} ${mb(v)}`).join(', ')}`);
console.log(`process: rss ${mb(m.rss)} (peak ${mb(peakRss)}), array buffers ${mb(m.arrayBuffers)}, heap ${mb(m.heapUsed)}`);
const session = profile ? new Session() : undefined;
if (session) {
  session.connect();
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
}
slideCpuMs.length = 0;
const slides = trickles.flatMap((f) => feed(f, Infinity));
if (session) writeFileSync(profile!, JSON.stringify((await session.post('Profiler.stop')).profile));
if (slides.length) console.log(`trickle slides, ms: wall ${slides.map((x) => x.toFixed(1)).join(' ')}; CPU ${slideCpuMs.map((x) => x.toFixed(1)).join(' ')}`);
const digest = createHash('sha1');
for (const status of [ANY_STATUS, { lo: 404, hi: 404 }, { lo: 200, hi: 299 }]) {
  digest.update(JSON.stringify(window.top('url', 2000, status)));
  digest.update(JSON.stringify(window.top('status', 10, status)));
}
digest.update(JSON.stringify(tops));
console.log(`digest of the tops: ${digest.digest('hex')}`);
