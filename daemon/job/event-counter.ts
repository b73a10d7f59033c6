import type { DecodedEvents } from '../avro/index.js';
import { parsePosition } from '../channel/position-header.js';
import type { Logger } from '../log.js';
import { FIELD, LineFields } from '../logformat/line-fields.js';
import { LineClock } from '../logformat/line-clock.js';
import type { CountedPositions } from './counted-positions.js';
import type { JobCounters } from './job-stats.js';
import type { LineParser } from '../logformat/log-format.js';
import { lineFormatOf } from './url-window-config.js';
import type { HistoryBatches } from './history-batches.js';
import type { OpenBatch, OpenBatches } from './open-batches.js';
import { KeyHash } from '../counts/key-hash.js';
import type { BatchSet, WindowSet } from '../counts/window-set.js';
import type { TimeMode } from './time-mode.js';
import type { UrlWindowJobConfig } from './url-window-config.js';
import type { ChangeListener } from './window-slider.js';
import { unparsedLineSample } from '../telemetry/index.js';

/** Closes, as events come, the batches the watermark has passed (event time). */
export interface WatermarkCloser {
  closeBehindWatermark(): void;
}

/**
 * The hot path: counts a call's decoded events into their open batches. Per event: skip
 * what was counted before (`CountedPositions`), read the line's fields, place the event by
 * its time (processing: the `timestamp` header; event: the line's own time), and count it
 * in every dimension: per dimension its key's id (looked up from the field's bytes), its
 * status, its client's hash (for visitors) and its bytes. No closure and no string per
 * event; the work per call (closing, publishing) comes after the loop. (A query node's
 * input is the merge workers' results, cluster/query-node.ts, not this.)
 *
 * The history is by the line's own time in both modes, and nothing is dropped for being
 * late: in processing time every line is also counted at its own time (`HistoryBatches`,
 * in every dimension, as the window counts it); in event time the window's batches
 * become the history as they close, and a line outside the live window (older than the
 * watermark, or than the window) goes to the history alone, counted as `historyOnly`.
 */
export class EventCounter {
  readonly #parse: LineParser;
  readonly #range: LineFields;
  readonly #clock = new LineClock();
  readonly #hash = new KeyHash();
  readonly #window: WindowSet;
  /** Per dimension: its field in `#range`, whether it counts visitors. */
  readonly #dimFields: Int32Array;
  readonly #dimVisitors: Uint8Array;
  readonly #anyVisitors: boolean;
  /** The url dimension's index (-1: URLs are not counted): what the history counts. */
  readonly #urlDim: number;
  readonly #open: OpenBatches;
  readonly #time: TimeMode;
  readonly #positions: CountedPositions;
  readonly #counters: JobCounters;
  readonly #closer: WatermarkCloser;
  readonly #changes: ChangeListener;
  /** Counts by own time that do not pass through the window; undefined with the history off. */
  readonly #history: HistoryBatches | undefined;
  readonly #log: Logger;
  /** Event time: the batch the last line of this call went to, and its slot. */
  #lastSlot = NaN;
  #lastBatch: OpenBatch | undefined;
  /** Malformed lines logged (at debug level) since the last tick: a few samples each. */
  #parseErrorSamples = 0;

  constructor(
    config: Pick<UrlWindowJobConfig, 'logFormat' | 'stripQueryString' | 'fields'>,
    parts: {
      window: WindowSet; open: OpenBatches; time: TimeMode; positions: CountedPositions; counters: JobCounters;
      closer: WatermarkCloser; changes: ChangeListener; history: HistoryBatches | undefined;
    },
    log: Logger,
  ) {
    const format = lineFormatOf(config);
    this.#parse = format.parse;
    this.#range = new LineFields(format.fieldNames.length);
    this.#window = parts.window;
    const dims = parts.window.dims;
    this.#dimFields = Int32Array.from(dims.map((d) => d.spec.field));
    this.#dimVisitors = Uint8Array.from(dims.map((d) => (d.spec.visitors ? 1 : 0)));
    this.#anyVisitors = dims.some((d) => d.spec.visitors);
    this.#urlDim = dims.findIndex((d) => d.name === 'url');
    this.#open = parts.open;
    this.#time = parts.time;
    this.#positions = parts.positions;
    this.#counters = parts.counters;
    this.#closer = parts.closer;
    this.#changes = parts.changes;
    this.#history = parts.history;
    this.#log = log;
  }

  /** A new batch interval: a few more malformed lines may be logged as samples. */
  newTick(): void {
    this.#parseErrorSamples = 0;
  }

  /**
   * Counts events into their open slots, skipping what was counted before. A source batch
   * is a run of events whose first carries `lf.pos = key:offset:n`; the run is skipped
   * when the position says it was counted already.
   */
  count(ev: DecodedEvents): void {
    const data = ev.data;
    const range = this.#range;
    const parse = this.#parse;
    const open = this.#open;
    const counters = this.#counters;
    const eventTime = this.#time.eventTime;
    const history = this.#history;
    const clock = this.#clock;
    const now = open.slotOf(Date.now());
    let lastTs = NaN;
    let slot: OpenBatch | undefined;
    let runLeft = 0;
    let runKey = '';
    let skipRun = false;
    this.#lastBatch = undefined;
    for (let i = 0; i < ev.count; i++) {
      const ps = ev.posStarts[i]!;
      if (ps !== -1) {
        const run = parsePosition(data.toString('latin1', ps, ev.posEnds[i]));
        runKey = run.key;
        runLeft = run.events;
        skipRun = this.#positions.countedAlready(run.key, run.offset, run.events);
      }
      const inRun = runLeft > 0;
      if (inRun) {
        runLeft--;
        if (skipRun) {
          counters.duplicates++;
          continue;
        }
      } else if (ev.idStarts[i] !== -1 && this.#positions.seen(data.toString('utf8', ev.idStarts[i], ev.idEnds[i]))) {
        counters.duplicates++;
        continue;
      }
      if (eventTime) {
        this.#countByEventTime(data, ev.starts[i]!, ev.ends[i]!, inRun ? runKey : undefined);
        continue;
      }
      const ts = ev.timestamps[i]!;
      if (ts !== lastTs || slot === undefined) {
        lastTs = ts;
        // Late events join the oldest open batch; events from the future join the newest.
        const next = open.nextToClose;
        const k = Number.isNaN(ts) ? now : Math.min(Math.max(open.slotOf(ts), next), Math.max(now, next));
        slot = open.batch(k);
      }
      slot.events++;
      counters.eventsIn++;
      if (parse(data, ev.starts[i]!, ev.ends[i]!, range)) {
        this.#countLine(slot.counts);
        if (history) {
          // The history is by the line's own time; a line without one, at when it was read
          // (a line that does not parse, with the line before it).
          const ms = clock.timeOf(data, range);
          this.#countHistory(Number.isNaN(ms) ? open.slotOf(Number.isNaN(ts) ? Date.now() : ts) : open.slotOf(ms), true);
        }
      } else {
        slot.parseErrors++;
        history?.countParseError(open.slotOf(Number.isNaN(ts) ? Date.now() : ts));
        if (this.#parseErrorSamples++ < 5) {
          unparsedLineSample.emit(this.#log, { line: data.toString('utf8', ev.starts[i]!, Math.min(ev.ends[i]!, ev.starts[i]! + 300)), file: inRun ? runKey : undefined });
        }
        if (inRun) this.#positions.addParseError(runKey);
      }
    }
    if (ev.count > 0) {
      this.#changes.markChanged();
      this.#time.lastArrivalMs = Date.now();
      counters.lastEventMs = this.#time.lastArrivalMs;
    }
    if (eventTime) this.#closer.closeBehindWatermark();
    if (history?.full) history.flush();
    counters.publish();
  }

  /**
   * Each dimension's key id of the line `#countLine` counted last: the history counts the
   * same line by its own time with them, not by second look-ups (processing time; the ids
   * cannot be released in between: the open batch holds them).
   */
  #lineKeys = new Int32Array(0);

  /** The parsed line (in `#range`) into every dimension of the batch. */
  #countLine(batch: BatchSet): void {
    const f = this.#range;
    const code = f.status;
    const bytes = f.bytes;
    let hi = 0;
    let lo = 0;
    if (this.#anyVisitors) {
      const c = FIELD.client;
      this.#hash.of(f.bufs[c]!, f.starts[c]!, f.ends[c]!);
      hi = this.#hash.hi;
      lo = this.#hash.lo;
    }
    const dims = this.#window.dims;
    const fields = this.#dimFields;
    const visitors = this.#dimVisitors;
    if (this.#lineKeys.length !== dims.length) this.#lineKeys = new Int32Array(dims.length);
    const lineKeys = this.#lineKeys;
    for (let d = 0; d < dims.length; d++) {
      const fi = fields[d]!;
      const key = dims[d]!.keys.id(f.bufs[fi]!, f.starts[fi]!, f.ends[fi]!);
      lineKeys[d] = key;
      if (visitors[d] === 1) batch.dims[d]!.add(key, code, hi, lo, bytes);
      else batch.dims[d]!.add(key, code, 0, 0, bytes);
    }
  }

  /** The line `#countLine` counted last into `batch` again, by the key ids and hash it took. */
  #countLineAgain(batch: BatchSet): void {
    const f = this.#range;
    const visitors = this.#dimVisitors;
    const lineKeys = this.#lineKeys;
    const hi = this.#hash.hi;
    const lo = this.#hash.lo;
    for (let d = 0; d < lineKeys.length; d++) {
      if (visitors[d] === 1) batch.dims[d]!.add(lineKeys[d]!, f.status, hi, lo, f.bytes);
      else batch.dims[d]!.add(lineKeys[d]!, f.status, 0, 0, f.bytes);
    }
  }

  /**
   * The parsed line (in `#range`) into the history at own-time slot `k`, in every dimension
   * (the history answers by any of them; a job without dimensions keeps its lines and parse
   * errors there). `again`: `#countLine` just counted this line into the live batch, whose
   * key ids and client hash are reused.
   */
  #countHistory(k: number, again: boolean): void {
    const history = this.#history;
    if (!history) return;
    if (again) this.#countLineAgain(history.line(k));
    else this.#countLine(history.line(k));
  }

  /**
   * Event time: the line's own time places it. A line older than the live window (by the
   * watermark, or its batch has closed and left the window) goes to the history alone; one
   * whose batch an idle flush fired early and that is still in the window reopens the batch
   * (the slider adds it to what was shown). Lines that are not lines of the format, or have
   * no time, are parse errors of the newest open batch.
   */
  #countByEventTime(data: Buffer, start: number, end: number, fileKey: string | undefined): void {
    const range = this.#range;
    const open = this.#open;
    const time = this.#time;
    const ok = this.#parse(data, start, end, range);
    const ms = ok ? this.#clock.timeOf(data, range) : NaN;
    if (Number.isNaN(ms)) {
      this.#countUnplaced(1);
      this.#counters.eventsIn++;
      if (fileKey) this.#positions.addParseError(fileKey);
      return;
    }
    const k = open.slotOf(ms);
    if (Number.isNaN(open.nextToClose)) open.nextToClose = time.firstSlot(open, ms);
    this.#counters.eventsIn++;
    // Late by the watermark as of this line (not as of the last tick): the same log gives
    // the same answer however fast it is read.
    if (time.isLate(ms) || (k < open.nextToClose && !this.#window.holds(k))) {
      this.#counters.historyOnly++;
      if (fileKey) this.#positions.addHistoryOnly(fileKey);
      this.#countHistory(k, false);
      return;
    }
    if (!(ms <= time.maxEventMs)) time.maxEventMs = ms;
    // A log's lines come in time order, ~10 per second of log in a replay: the last line's
    // batch is most often this one's (reset at each call: batches close between calls).
    let slot = this.#lastBatch;
    if (k !== this.#lastSlot || slot === undefined) {
      slot = open.batch(k);
      this.#lastSlot = k;
      this.#lastBatch = slot;
    }
    if (time.pendingParseErrors > 0) {
      slot.parseErrors += time.pendingParseErrors;
      slot.events += time.pendingParseErrors;
      time.pendingParseErrors = 0;
    }
    slot.events++;
    this.#countLine(slot.counts);
  }

  /**
   * Event time: lines with no time are parse errors of the newest open batch; before the
   * first line time there is none, and they wait in `pendingParseErrors`.
   */
  #countUnplaced(n: number): void {
    const open = this.#open;
    const k = Number.isNaN(open.nextToClose) ? NaN : Math.max(open.nextToClose, open.slotOf(this.#time.maxEventMs));
    if (Number.isNaN(k)) {
      this.#time.pendingParseErrors += n;
      return;
    }
    const slot = open.batch(k);
    slot.events += n;
    slot.parseErrors += n;
  }
}
