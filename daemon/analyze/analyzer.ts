import { LogflowError } from '../errors.js';
import { LineClock } from '../logformat/line-clock.js';
import { LineFields } from '../logformat/line-fields.js';
import { compileLineFormat, type LineParser } from '../logformat/log-format.js';
import { ANY_STATUS, type StatusRange } from '../counts/dimension-window.js';
import { Breakdown } from './breakdown.js';
import { panelsOf, PANEL_DIMENSIONS } from './panels.js';
import { BatchCounts } from '../counts/batch-counts.js';
import { SlidingWindow } from '../counts/sliding-window.js';
import type { UrlCount } from '../counts/top-k.js';
import type { AnalyzeReport, FileReport, FullReport } from './report.js';
import { Timeline } from './timeline.js';
import { UrlTotals } from './url-totals.js';

export interface AnalyzeOptions {
  readonly time: 'processing' | 'event';
  readonly logFormat: string;
  readonly windowSeconds: number;
  /** Also the batch interval: every slide closes one batch. */
  readonly slideSeconds: number;
  readonly top: number;
  /**
   * Event time: a line more than this older than the newest before it is late (in the
   * totals, in no window). Undefined: no watermark, every batch waits for the end of input.
   */
  readonly watermarkSeconds?: number | undefined;
  /** A JSON format's `fields.NAME = path`. */
  readonly fields?: Readonly<Record<string, string>> | undefined;
  /** Dimensions whose top keys the report lists (`--by`), with lines, bytes and visitors. */
  readonly by?: readonly string[] | undefined;
  /** Only lines of this status count in `by` (`--status 404`, `4xx`). */
  readonly status?: { readonly text: string; readonly range: StatusRange } | undefined;
  /** The HTML report's panels (statuses, 404 URLs, clients, referrers, browsers, OS, days, hours). */
  readonly panels?: boolean | undefined;
}

const SAMPLES = 3;
const SAMPLE_CHARS = 300;

/**
 * `logflow analyze`'s engine: the daemon's parser, time parser and sliding window, fed in
 * process. Each line goes into the batch of its time (or of the moment it was read), and
 * every closed batch is one slide of the window. In event time with no watermark (the
 * default: the input is finite) every batch stays open until the input ends and then they
 * close in time order, so files read one after the other count exactly however their times
 * overlap; a batch holds only the URLs of its own second, so that costs memory in
 * proportion to the (second, URL) pairs of the input. With a watermark a batch closes once
 * the newest time minus the watermark has passed it, as in the job. The busiest window's top is taken just
 * before a slide that does not beat it, so the heap runs once per new peak, not per slide.
 */
export class LogAnalyzer {
  readonly #o: AnalyzeOptions;
  readonly #slideMs: number;
  readonly #watermarkMs: number;
  readonly #parse: LineParser;
  readonly #range: LineFields;
  readonly #clock = new LineClock();
  /** Counts by dimension, when the report asks for them (`--by`, the HTML panels). */
  readonly #breakdown: Breakdown | undefined;
  readonly #window: SlidingWindow;
  readonly #totals = new UrlTotals();
  readonly #open = new Map<number, { counts: BatchCounts; events: number }>();
  /** Totals of the closed slots in the window, by slot % windowSlots, and which slot each is. */
  readonly #ringTotal: Float64Array;
  readonly #ringSlot: Float64Array;
  readonly #timeline = new Timeline();
  #nextToClose = NaN;
  #maxEventMs = -Infinity;
  #minMs = Infinity;
  #maxMs = -Infinity;
  #lines = 0;
  #parsed = 0;
  #late = 0;
  readonly #files: { name: string; lines: number; parseErrors: number }[] = [];
  readonly #samples: { file: string; line: number; text: string }[] = [];
  #peak = { endSlot: 0, total: 0, urls: [] as UrlCount[], pending: false };
  readonly #started = performance.now();

  constructor(options: AnalyzeOptions) {
    this.#o = options;
    this.#slideMs = Math.round(options.slideSeconds * 1000);
    // No watermark is an infinite one: nothing is late and no batch closes before `finish`.
    this.#watermarkMs = options.watermarkSeconds === undefined ? Infinity : Math.round(options.watermarkSeconds * 1000);
    const format = compileLineFormat(options.logFormat, { fields: options.fields });
    if (!format.has.has('url')) throw new LogflowError('LF_LOG_FORMAT', `the log format ${JSON.stringify(options.logFormat)} has no URL field: analyze counts URLs`);
    this.#parse = format.parse;
    this.#range = new LineFields(format.fieldNames.length);
    const names = [...new Set([...(options.by ?? []), ...(options.panels ? PANEL_DIMENSIONS.filter((d) => format.has.has(d)) : [])])];
    if (names.length > 0) this.#breakdown = new Breakdown(names.map((name) => ({ name, field: format.fieldNames.indexOf(name) })), format.has.has('client'));
    const slots = Math.round(options.windowSeconds / options.slideSeconds);
    this.#window = new SlidingWindow(slots);
    this.#ringTotal = new Float64Array(slots);
    this.#ringSlot = new Float64Array(slots).fill(NaN);
  }

  /** The lines that follow belong to this file. */
  startFile(name: string): void {
    this.#files.push({ name, lines: 0, parseErrors: 0 });
  }

  /** A chunk's lines (see `readLogLines`). */
  readonly onLines = (buf: Buffer, starts: Int32Array, ends: Int32Array, count: number): boolean => {
    const file = this.#files.at(-1)!;
    const range = this.#range;
    const eventTime = this.#o.time === 'event';
    const readSlot = eventTime ? 0 : Math.floor(Date.now() / this.#slideMs);
    if (!eventTime && Number.isNaN(this.#nextToClose)) this.#nextToClose = readSlot;
    let lastSlot = NaN;
    let batch: { counts: BatchCounts; events: number } | undefined;
    for (let i = 0; i < count; i++) {
      const s = starts[i]!;
      const e = ends[i]!;
      file.lines++;
      let slot = readSlot;
      let ms = readSlot * this.#slideMs;
      if (!this.#parse(buf, s, e, range)) {
        this.#parseError(file, buf, s, e);
        continue;
      }
      if (eventTime) {
        ms = this.#clock.timeOf(buf, range);
        if (Number.isNaN(ms)) {
          this.#parseError(file, buf, s, e);
          continue;
        }
        slot = Math.floor(ms / this.#slideMs);
      }
      this.#parsed++;
      this.#totals.add(buf, range.start, range.end);
      this.#breakdown?.add(buf, range, ms);
      if (ms < this.#minMs) this.#minMs = ms;
      if (ms > this.#maxMs) this.#maxMs = ms;
      if (eventTime) {
        // Late by the watermark: in the totals, but its window has moved on (as in the job).
        if (ms < this.#maxEventMs - this.#watermarkMs) {
          this.#late++;
          continue;
        }
        if (Number.isNaN(this.#nextToClose)) this.#nextToClose = Math.floor((ms - this.#watermarkMs) / this.#slideMs);
        if (ms > this.#maxEventMs) {
          this.#maxEventMs = ms;
          // Close as the watermark passes, not per chunk: a closed batch's arrays are
          // reused by the next one opened (fresh ones cost a quarter of the time in GC).
          const limit = Math.floor((ms - this.#watermarkMs) / this.#slideMs);
          if (limit > this.#nextToClose) {
            this.#closeBefore(limit);
            batch = undefined;
          }
        }
      }
      if (slot !== lastSlot || batch === undefined) {
        batch = this.#slot(slot);
        lastSlot = slot;
      }
      batch.events++;
      batch.counts.add(this.#window.urls.id(buf, range.start, range.end));
    }
    this.#lines += count;
    this.#breakdown?.flush();
    this.#closeBefore(eventTime ? Math.floor((this.#maxEventMs - this.#watermarkMs) / this.#slideMs) : readSlot);
    return true;
  };

  #parseError(file: { name: string; lines: number; parseErrors: number }, buf: Buffer, s: number, e: number): void {
    file.parseErrors++;
    if (this.#samples.length < SAMPLES) this.#samples.push({ file: file.name, line: file.lines, text: buf.toString('utf8', s, Math.min(e, s + SAMPLE_CHARS)) });
  }

  #slot(k: number): { counts: BatchCounts; events: number } {
    let open = this.#open.get(k);
    if (!open) {
      open = { counts: this.#window.openBatch(), events: 0 };
      this.#open.set(k, open);
    }
    return open;
  }

  /**
   * Closes every batch below `limit` in order: one slide each. `nextOpen`, when the caller
   * knows it, is the lowest open batch (saves a scan of the open ones at each gap).
   */
  #closeBefore(limit: number, nextOpen?: number): void {
    const w = this.#window.windowSlots;
    while (this.#nextToClose < limit) {
      const k = this.#nextToClose;
      const open = this.#open.get(k);
      if (!open && this.#window.total === 0) {
        // An empty window and no batch here: skip to the next batch (a gap in the log).
        let next = nextOpen ?? limit;
        if (nextOpen === undefined) for (const slot of this.#open.keys()) if (slot < next) next = slot;
        this.#nextToClose = next;
        continue;
      }
      const entering = open?.events ?? 0;
      const r = k % w;
      const leaving = this.#ringSlot[r] === k - w ? this.#ringTotal[r]! : 0;
      if (this.#peak.pending && !(this.#window.total + entering - leaving > this.#peak.total)) this.#takePeakTop();
      this.#window.advance(k, open?.counts, entering);
      this.#open.delete(k);
      this.#ringSlot[r] = k;
      this.#ringTotal[r] = entering;
      this.#timeline.add(k, entering);
      if (this.#window.total > this.#peak.total) this.#peak = { endSlot: k + 1, total: this.#window.total, urls: [], pending: true };
      this.#nextToClose = k + 1;
    }
  }

  #takePeakTop(): void {
    this.#peak.urls = this.#window.top(this.#o.top);
    this.#peak.pending = false;
  }

  /** Closes what is open and returns the report. */
  finish(): FullReport {
    // Without a watermark this is every batch of the input, in any order the files gave them.
    const open = Float64Array.from(this.#open.keys()).sort();
    for (const k of open) if (k >= this.#nextToClose) this.#closeBefore(k + 1, k);
    if (this.#peak.pending) this.#takePeakTop();
    const iso = (ms: number) => new Date(ms).toISOString();
    const peak = this.#peak;
    const windowMs = Math.round(this.#o.windowSeconds * 1000);
    const files: FileReport[] = this.#files.map((f) => ({ name: f.name, lines: f.lines, parseErrors: f.parseErrors }));
    const points = this.#timeline.points();
    return {
      report: {
        lines: this.#lines,
        parsed: this.#parsed,
        parseErrors: this.#lines - this.#parsed,
        from: this.#parsed > 0 ? iso(this.#minMs) : null,
        to: this.#parsed > 0 ? iso(this.#maxMs) : null,
        urls: this.#totals.top(this.#o.top),
        peakWindow: peak.total > 0 ? { start: iso(peak.endSlot * this.#slideMs - windowMs), end: iso(peak.endSlot * this.#slideMs), total: peak.total, urls: peak.urls } : null,
        files,
        ...this.#byReport(),
      },
      details: {
        time: this.#o.time,
        logFormat: this.#o.logFormat,
        windowSeconds: this.#o.windowSeconds,
        slideSeconds: this.#o.slideSeconds,
        parseErrorSamples: this.#samples,
        late: this.#late,
        watermarkSeconds: this.#o.watermarkSeconds ?? null,
        series: { startMs: points.firstSlot * this.#slideMs, stepSeconds: points.step * this.#o.slideSeconds, counts: points.counts },
        seconds: (performance.now() - this.#started) / 1000,
        ...(this.#o.panels && this.#breakdown && { panels: panelsOf(this.#breakdown, this.#o.top) }),
      },
    };
  }

  /** `by` (the top keys of each `--by` dimension, of `--status`), the input's bytes and visitors. */
  #byReport(): Partial<Pick<AnalyzeReport, 'by' | 'status' | 'bytes' | 'visitors' | 'visitorsExact'>> {
    const b = this.#breakdown;
    if (!b) return {};
    const status = this.#o.status;
    const by = this.#o.by && this.#o.by.length > 0 ? Object.fromEntries(this.#o.by.map((name) => [name, b.top(name, this.#o.top, status?.range ?? ANY_STATUS)])) : undefined;
    const v = b.visitors();
    return { ...(by && { by }), ...(status && { status: status.text }), bytes: b.bytes, visitors: v.visitors, visitorsExact: v.visitorsExact };
  }
}
