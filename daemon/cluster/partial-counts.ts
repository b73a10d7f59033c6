import { LineFields } from '../logformat/line-fields.js';
import { ClfTimeParser } from '../logformat/clf-time.js';
import type { UrlParser } from '../logformat/log-format.js';

/** One batch interval's counts of a partial: its slot (batch index), parse errors and URLs. */
export interface PartialSlot {
  readonly slot: number;
  readonly parseErrors: number;
  readonly urls: readonly [string, number][];
}

/**
 * What a counter publishes for one partition per batch interval: the counts of the events
 * with sequence numbers `from`..`to` of that partition. Event time: `maxEventMs` is the
 * newest line time seen, `unplacedErrors` the lines without a time (the query node puts
 * them in its newest open batch, as the single-process job does).
 */
export interface PartialCounts {
  readonly partition: number;
  readonly from: number;
  readonly to: number;
  /** The counter's batch interval: slot k starts at k * batchMs. */
  readonly batchMs: number;
  readonly events: number;
  readonly maxEventMs: number | null;
  readonly unplacedErrors: number;
  readonly slots: readonly PartialSlot[];
}

interface SlotAccumulator {
  parseErrors: number;
  readonly urls: Map<string, number>;
}

/**
 * Counts the lines of event messages into per-slot URL counts, the counter's whole work.
 * `time = processing` places a line by its `timestamp` header, `event` by its own `[time]`.
 */
export class PartialBuilder {
  readonly #findUrl: UrlParser;
  readonly #batchMs: number;
  readonly #eventTime: boolean;
  readonly #clock = new ClfTimeParser();
  readonly #range = new LineFields();
  readonly #slots = new Map<number, SlotAccumulator>();
  #from = 0;
  #to = 0;
  #events = 0;
  #maxEventMs = NaN;
  #unplacedErrors = 0;
  /** Distinct (batch, URL) pairs: what the partial's size grows with. */
  #entries = 0;

  constructor(findUrl: UrlParser, batchMs: number, eventTime: boolean) {
    this.#findUrl = findUrl;
    this.#batchMs = batchMs;
    this.#eventTime = eventTime;
  }

  get empty(): boolean {
    return this.#from === 0;
  }

  get entries(): number {
    return this.#entries;
  }

  /** Counts one message's lines; `timestampMs` is its `timestamp` header (NaN: none). */
  add(seq: number, data: Buffer, timestampMs: number): void {
    if (this.#from === 0) this.#from = seq;
    this.#to = seq;
    const processingSlot = Math.floor((Number.isNaN(timestampMs) ? Date.now() : timestampMs) / this.#batchMs);
    let start = 0;
    for (;;) {
      const lf = data.indexOf(10, start);
      const end = lf < 0 ? data.length : lf;
      this.#line(data, start, end, processingSlot);
      if (lf < 0) break;
      start = lf + 1;
    }
  }

  #line(data: Buffer, start: number, end: number, processingSlot: number): void {
    const range = this.#range;
    range.timeStart = -1;
    this.#events++;
    const ok = this.#findUrl(data, start, end, range);
    let slot = processingSlot;
    if (this.#eventTime) {
      const time = ok && range.timeStart !== undefined && range.timeStart >= 0 ? this.#clock.parse(data, range.timeStart, range.timeEnd!) : NaN;
      if (Number.isNaN(time)) {
        this.#unplacedErrors++;
        return;
      }
      if (!(time <= this.#maxEventMs)) this.#maxEventMs = time;
      slot = Math.floor(time / this.#batchMs);
    }
    let acc = this.#slots.get(slot);
    if (!acc) {
      acc = { parseErrors: 0, urls: new Map() };
      this.#slots.set(slot, acc);
    }
    if (!ok) {
      acc.parseErrors++;
      return;
    }
    const url = data.toString('utf8', range.start, range.end);
    const n = acc.urls.get(url);
    if (n === undefined) this.#entries++;
    acc.urls.set(url, (n ?? 0) + 1);
  }

  build(partition: number): PartialCounts {
    return {
      partition,
      from: this.#from,
      to: this.#to,
      batchMs: this.#batchMs,
      events: this.#events,
      maxEventMs: Number.isNaN(this.#maxEventMs) ? null : this.#maxEventMs,
      unplacedErrors: this.#unplacedErrors,
      slots: [...this.#slots].map(([slot, a]) => ({ slot, parseErrors: a.parseErrors, urls: [...a.urls] })),
    };
  }
}

/** JSON: compact enough (a URL and its count per slot, not per line) and readable with `nats`. */
export function encodePartial(p: PartialCounts): Buffer {
  return Buffer.from(JSON.stringify(p));
}

export function decodePartial(data: Uint8Array): PartialCounts {
  return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as PartialCounts;
}

/** The message id of a partial: `partition:last-sequence-covered`. */
export function partialId(p: PartialCounts): string {
  return `${p.partition}:${p.to}`;
}

/** The last sequence a partial's id says it covers (0 for none). */
export function coveredBy(id: string | undefined): number {
  const n = id ? Number(id.slice(id.lastIndexOf(':') + 1)) : 0;
  return Number.isSafeInteger(n) ? n : 0;
}
