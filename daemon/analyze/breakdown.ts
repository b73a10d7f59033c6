// The job's modules one by one: job/index.js would load the whole job (Avro, SQLite).
import { DimensionBatch } from '../counts/dimension-batch.js';
import { ANY_STATUS, DimensionWindow, type StatusRange, type TopItem } from '../counts/dimension-window.js';
import { HLL_ERROR } from '../counts/hyperloglog.js';
import { KeyHash } from '../counts/key-hash.js';
import { VisitorSketch } from '../counts/visitor-sketch.js';
import { FIELD, type LineFields } from '../logformat/line-fields.js';

/** A window that never slides: every line in slot 0, visitors never leave. */
const WHOLE_INPUT = 2 ** 31 - 1;
const DAY_MS = 86_400_000;

export interface DayTotals {
  /** The day, `YYYY-MM-DD` (UTC). */
  readonly day: string;
  readonly requests: number;
  readonly bytes: number;
  readonly visitors: number;
  readonly visitorsExact: boolean;
}

/**
 * `logflow analyze`'s counts by dimension over the whole input: per dimension its keys'
 * lines, bytes and visitors (the job's structures, in a window that never slides), the
 * input's distinct clients and bytes, and per day and per hour of day. Lines are added to
 * open batches and the batches enter the totals once per chunk, as the job's do per slot.
 */
export class Breakdown {
  readonly dims: DimensionWindow[];
  readonly #batches: DimensionBatch[];
  readonly #fields: Int32Array;
  readonly #dimVisitors: Uint8Array;
  readonly #visitors: boolean;
  readonly #hash = new KeyHash();
  readonly #clients = new VisitorSketch();
  #bytes = 0;
  readonly #days = new Map<number, { requests: number; bytes: number; visitors: VisitorSketch }>();
  readonly #hours = { requests: new Float64Array(24), bytes: new Float64Array(24) };

  /** `dims`: the dimensions to count (names with their `LineFields` index); `visitors`: the format has a client field. */
  constructor(dims: readonly { name: string; field: number }[], visitors: boolean) {
    this.#visitors = visitors;
    this.dims = dims.map((d) => new DimensionWindow({ name: d.name, field: d.field, visitors: visitors && d.name !== 'client', maxKeys: 0 }, WHOLE_INPUT));
    this.#batches = this.dims.map((d) => new DimensionBatch(d.visitors !== undefined));
    this.#fields = Int32Array.from(dims.map((d) => d.field));
    this.#dimVisitors = Uint8Array.from(this.dims.map((d) => (d.visitors ? 1 : 0)));
  }

  /** The day of the last line (lines mostly come in time order): no map lookup per line. */
  #dayMs = NaN;
  #day: { requests: number; bytes: number; visitors: VisitorSketch } | undefined;

  /** A parsed line (its fields in `f`) of time `ms` (NaN: none), whose time text is in `line`. */
  add(line: Buffer, f: LineFields, ms: number): void {
    const code = f.status;
    const bytes = f.bytes;
    let hi = 0;
    let lo = 0;
    if (this.#visitors) {
      const c = FIELD.client;
      this.#hash.of(f.bufs[c]!, f.starts[c]!, f.ends[c]!);
      hi = this.#hash.hi;
      lo = this.#hash.lo;
      this.#clients.add(hi, lo);
    }
    this.#bytes += bytes;
    const dims = this.dims;
    const fields = this.#fields;
    const dimVisitors = this.#dimVisitors;
    for (let d = 0; d < dims.length; d++) {
      const fi = fields[d]!;
      const key = dims[d]!.keys.id(f.bufs[fi]!, f.starts[fi]!, f.ends[fi]!);
      if (dimVisitors[d] === 1) this.#batches[d]!.add(key, code, hi, lo, bytes);
      else this.#batches[d]!.add(key, code, 0, 0, bytes);
    }
    if (!Number.isNaN(ms)) {
      const dayMs = Math.floor(ms / DAY_MS) * DAY_MS;
      let day = this.#day;
      if (dayMs !== this.#dayMs || !day) {
        day = this.#days.get(dayMs);
        if (!day) this.#days.set(dayMs, (day = { requests: 0, bytes: 0, visitors: new VisitorSketch() }));
        this.#dayMs = dayMs;
        this.#day = day;
      }
      day.requests++;
      day.bytes += bytes;
      if (this.#visitors) day.visitors.add(hi, lo);
      const hour = hourAsWritten(line, f, ms);
      this.#hours.requests[hour]!++;
      this.#hours.bytes[hour]! += bytes;
    }
  }

  /** The lines added since the last call go into the totals (once per chunk: a batch per dimension). */
  flush(): void {
    this.dims.forEach((d, i) => {
      const b = this.#batches[i]!;
      if (b.size === 0) return;
      d.enter(0, b);
      b.clear();
    });
  }

  /** The `n` top keys of `name` with status `status`. */
  top(name: string, n: number, status: StatusRange = ANY_STATUS): TopItem[] {
    this.flush();
    const d = this.dims.find((x) => x.name === name);
    return d ? d.top(n, status, 0).items : [];
  }

  /** Keys of `name` with lines (of status `status`). */
  keys(name: string, status: StatusRange = ANY_STATUS): number {
    this.flush();
    const d = this.dims.find((x) => x.name === name);
    return d ? d.top(0, status, 0).keys : 0;
  }

  /**
   * Groups the keys of `name` (all of them, up to `limit` most counted) by what `group`
   * makes of each (a browser from an agent); per group its lines, bytes and visitors (the
   * union of its keys' visitors).
   */
  grouped(name: string, limit: number, group: (key: string) => string, n: number): TopItem[] {
    const d = this.dims.find((x) => x.name === name);
    if (!d) return [];
    const groups = new Map<string, { count: number; bytes: number; visitors: VisitorSketch }>();
    for (const item of this.top(name, limit)) {
      const g = group(item.key);
      let e = groups.get(g);
      if (!e) groups.set(g, (e = { count: 0, bytes: 0, visitors: new VisitorSketch() }));
      e.count += item.count;
      e.bytes += item.bytes;
      const key = d.keys.idOfString(item.key);
      for (let cell = d.cells.firstOfKey(key); cell !== -1; cell = d.cells.nextOfKey(cell)) d.visitors?.unionInto(cell, 0, e.visitors);
    }
    return [...groups]
      .map(([key, e]) => ({ key, count: e.count, bytes: e.bytes, visitors: this.#visitors ? e.visitors.count() : null, visitorsExact: e.visitors.exact }))
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .slice(0, n);
  }

  /** Distinct clients of the whole input, and whether that is exact. */
  visitors(): { visitors: number | null; visitorsExact: boolean; visitorsError: number } {
    return { visitors: this.#visitors ? this.#clients.count() : null, visitorsExact: this.#clients.exact, visitorsError: HLL_ERROR };
  }

  get bytes(): number {
    return this.#bytes;
  }

  days(): DayTotals[] {
    return [...this.#days]
      .sort((a, b) => a[0] - b[0])
      .map(([ms, d]) => ({ day: new Date(ms).toISOString().slice(0, 10), requests: d.requests, bytes: d.bytes, visitors: this.#visitors ? d.visitors.count() : 0, visitorsExact: d.visitors.exact }));
  }

  /** Requests and bytes by hour of day (0-23, as the log writes its times). */
  hours(): { hour: number; requests: number; bytes: number }[] {
    return Array.from({ length: 24 }, (_, hour) => ({ hour, requests: this.#hours.requests[hour]!, bytes: this.#hours.bytes[hour]! }));
  }
}

/** The hour a line's time shows: Apache's `DD/Mon/YYYY:HH`, ISO's `YYYY-MM-DDTHH`; UTC for epoch times. */
function hourAsWritten(line: Buffer, f: LineFields, ms: number): number {
  if (f.timeStart >= 0) {
    const at = f.timeStart + (f.timeIso ? 11 : 12);
    const h = (line[at]! - 48) * 10 + (line[at + 1]! - 48);
    if (h >= 0 && h <= 23) return h;
  }
  return new Date(ms).getUTCHours();
}
