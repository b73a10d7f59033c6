import { AvroRpcServer, type DecodedEvents, type Status } from '../channel/index.js';
import type { UrlWindowJobConfig } from '../conf/index.js';
import type { Logger } from '../log.js';
import { findUrl, type UrlRange } from './access-log.js';
import { SlidingWindow, type SlotCounts } from './sliding-window.js';
import { topK } from './top-k.js';
import type { WindowResultSink } from './window-results.js';

interface OpenSlot {
  readonly counts: SlotCounts;
  events: number;
  parseErrors: number;
}

export interface JobStats {
  /** Events received (parsed or not). */
  readonly eventsIn: number;
  /** Events whose URL is counted in a closed batch (visible in the results). */
  readonly eventsCounted: number;
  /** Lines that parsed to no URL, in closed batches. */
  readonly parseErrors: number;
  readonly windowEndMs: number | undefined;
}

/**
 * The seed's Spark job: receives Flume events over Avro, takes each line's URL, counts
 * URLs per batch interval (by the `timestamp` header: processing time) and slides a
 * window over the batches, persisting every slide's result.
 */
export class UrlWindowJob {
  readonly name: string;
  readonly #config: UrlWindowJobConfig;
  readonly #log: Logger;
  readonly #results: WindowResultSink;
  readonly #window: SlidingWindow;
  readonly #server: AvroRpcServer;
  readonly #open = new Map<number, OpenSlot>();
  readonly #range: UrlRange = { start: 0, end: 0 };
  readonly #slideSlots: number;
  /** Earliest slot not yet closed; events for older slots go here (they arrived late). */
  #nextToClose: number;
  #timer: NodeJS.Timeout | undefined;
  #eventsIn = 0;
  #eventsCounted = 0;
  #parseErrors = 0;
  #windowEndMs: number | undefined;
  #changedSinceSlide = true;

  constructor(config: UrlWindowJobConfig, results: WindowResultSink, logger: Logger) {
    this.name = config.name;
    this.#config = config;
    this.#results = results;
    this.#log = logger.child({ job: config.name });
    this.#window = new SlidingWindow(config.windowDurationMs / config.batchIntervalMs);
    this.#slideSlots = config.slideDurationMs / config.batchIntervalMs;
    this.#nextToClose = this.#slotOf(Date.now());
    this.#server = new AvroRpcServer(
      { bind: config.bind, port: config.port, logger: this.#log },
      (events) => this.#receive(events),
    );
  }

  get port(): number {
    return this.#server.port;
  }

  stats(): JobStats {
    return {
      eventsIn: this.#eventsIn,
      eventsCounted: this.#eventsCounted,
      parseErrors: this.#parseErrors,
      windowEndMs: this.#windowEndMs,
    };
  }

  async start(): Promise<void> {
    const port = await this.#server.listen();
    this.#log.info({ bind: this.#config.bind, port }, 'avro receiver listening');
    this.#nextToClose = this.#slotOf(Date.now());
    this.#schedule();
  }

  /** Stops receiving, closes every batch that has begun, and persists the last slide. */
  async stop(): Promise<void> {
    await this.#server.close();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#closeSlotsBefore(this.#slotOf(Date.now()) + 1, true);
  }

  #slotOf(ms: number): number {
    return Math.floor(ms / this.#config.batchIntervalMs);
  }

  #receive(ev: DecodedEvents): Status {
    const data = ev.data;
    const range = this.#range;
    const now = this.#slotOf(Date.now());
    let lastTs = NaN;
    let slot: OpenSlot = this.#slot(now);
    for (let i = 0; i < ev.count; i++) {
      const ts = ev.timestamps[i]!;
      if (ts !== lastTs) {
        lastTs = ts;
        // Late events join the oldest open batch; events from the future join the newest.
        const k = Number.isNaN(ts) ? now : Math.min(Math.max(this.#slotOf(ts), this.#nextToClose), now);
        slot = this.#slot(k);
      }
      slot.events++;
      if (findUrl(data, ev.starts[i]!, ev.ends[i]!, range)) {
        const url = data.toString('utf8', range.start, range.end);
        slot.counts.set(url, (slot.counts.get(url) ?? 0) + 1);
      } else {
        slot.parseErrors++;
      }
    }
    this.#eventsIn += ev.count;
    return 'OK';
  }

  #slot(k: number): OpenSlot {
    let s = this.#open.get(k);
    if (!s) {
      s = { counts: new Map(), events: 0, parseErrors: 0 };
      this.#open.set(k, s);
    }
    return s;
  }

  #schedule(): void {
    const due = (this.#nextToClose + 1) * this.#config.batchIntervalMs;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, due - Date.now()));
  }

  #tick(): void {
    try {
      this.#closeSlotsBefore(this.#slotOf(Date.now()), false);
    } catch (err) {
      this.#log.error({ err }, 'closing a batch failed');
    }
    this.#schedule();
  }

  /** Closes every slot below `limit` in order; each slide boundary persists a result. */
  #closeSlotsBefore(limit: number, final: boolean): void {
    const started = performance.now();
    let slides = 0;
    while (this.#nextToClose < limit) {
      const k = this.#nextToClose++;
      const open = this.#open.get(k);
      this.#open.delete(k);
      const counted = open ? open.events - open.parseErrors : 0;
      if (this.#window.advance(k, open?.counts, counted)) this.#changedSinceSlide = true;
      if (open) {
        this.#eventsCounted += counted;
        this.#parseErrors += open.parseErrors;
      }
      const isSlide = (k + 1) % this.#slideSlots === 0;
      // After a long pause, skip the intermediate slides: only the newest window matters.
      if ((isSlide && limit - k <= this.#slideSlots) || (final && k === limit - 1)) {
        this.#persist(k);
        slides++;
      }
    }
    if (slides > 0) this.#log.debug({ ms: performance.now() - started, slides }, 'slide persisted');
  }

  #persist(k: number): void {
    const endMs = (k + 1) * this.#config.batchIntervalMs;
    const w = this.#window;
    this.#results.saveWindow({
      startMs: endMs - this.#config.windowDurationMs,
      endMs,
      total: w.total,
      distinctUrls: w.counts.size,
      top: this.#changedSinceSlide ? topK(w.counts, this.#config.topN) : [],
      changed: this.#changedSinceSlide,
    });
    this.#windowEndMs = endMs;
    this.#changedSinceSlide = false;
  }
}
