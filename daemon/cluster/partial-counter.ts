import type { StatsPart } from '../telemetry/stats.js';
import { TickLoop } from './tick-loop.js';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Bus, Leases, Records } from './bus.js';
import { ClusterJoin } from './cluster-join.js';
import type { Logger } from '../log.js';
import { compileLineFormat } from '../logformat/log-format.js';
import type { PartialCounterConfig } from './partial-counter-config.js';
import { PartialBuilder } from './partial-counts.js';
import { PartitionCounter, type PartitionFigures, type PartitionSettings } from './partition-counter.js';
import { lowestCovered } from './partition-progress.js';
import { visitorDimensions } from './cluster-settings.js';
import { counterConnected, counterStarted, counterTickFailed, eventsTrimmed, leaseLost, partitionReleased } from '../telemetry/index.js';

/** LOGFLOW_EVENTS is trimmed this often (a stream info and a purge per edge subject). */
const TRIM_EVERY_MS = 10_000;
/** Room under the server's max_payload for a message's headers (its id). */
const HEADER_ROOM = 4096;

/** What a counter's stats show (`cluster.counters` of /api/stats). */
export interface CounterFigures {
  readonly name: string;
  readonly id: string;
  readonly partitions: readonly PartitionFigures[];
  /** Why the counter does not count (a setting that differs from the cluster's), or null. */
  readonly problem: string | null;
}

/**
 * The counter (`type = url-count-partial`): owns some of the partitions through leases in
 * a KV bucket and, for each, publishes partial counts every batch interval (or heartbeats).
 * Any number run side by side; each takes its fair share (partitions / live counters), and
 * the partitions of a counter that stops renewing are taken over once its leases expire.
 * It also trims LOGFLOW_EVENTS below what every partition has counted.
 */
export class PartialCounter {
  readonly name: string;
  readonly #config: PartialCounterConfig;
  readonly #log: Logger;
  readonly #id = `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  /** Partition -> lease revision, for the partitions this counter holds. */
  readonly #leased = new Map<number, number>();
  readonly #counters = new Map<number, PartitionCounter>();
  /** Lines and pairs published for a partition by its earlier PartitionCounters in this process (a lease lost and taken again starts a new one). */
  readonly #carried = new Map<number, { linesOut: number; pairsOut: number }>();
  readonly #settings: PartitionSettings;
  #bus: Bus | undefined;
  #leases: Leases | undefined;
  #records: Records | undefined;
  readonly #loop: TickLoop;
  readonly #join: ClusterJoin;
  #lastTrim = 0;
  readonly #trimmedBelow = new Map<string, number>();

  constructor(config: PartialCounterConfig, logger: Logger) {
    this.name = config.name;
    this.#config = config;
    this.#log = logger.child({ job: config.name, counter: this.#id });
    this.#join = new ClusterJoin(config, `logflow-counter-${this.#id}`, this.#log);
    // The job's parser, the query string cut under stripQueryString (the dimensions were checked against the format).
    const format = compileLineFormat(config.logFormat, { stripQueryString: config.stripQueryString, fields: config.fields });
    this.#settings = {
      input: config.input.name,
      inputSubject: config.input.subject,
      outputSubject: config.output.subject,
      shards: config.shards,
      newBuilder: () => new PartialBuilder(format.parse, format.fieldNames.length, config.dimensions, config.batchIntervalMs, config.time === 'event'),
    };
    // (Every quarter second while it waits for the cluster: the tiers come up in a cascade.)
    const next = () => (this.#leases ? config.batchIntervalMs : Math.min(250, config.batchIntervalMs));
    this.#loop = new TickLoop({ log: this.#log, work: () => this.#work(), next, failed: counterTickFailed });
  }

  /** Owned partitions, for tests and logs. */
  get partitions(): number[] {
    return [...this.#counters.keys()].sort((a, b) => a - b);
  }

  get figures(): CounterFigures {
    const partitions = this.partitions.map((p) => {
      const f = this.#counters.get(p)!.figures;
      const before = this.#carried.get(p);
      return before ? { ...f, linesOut: f.linesOut + before.linesOut, pairsOut: f.pairsOut + before.pairsOut } : f;
    });
    return { name: this.name, id: this.#id, partitions, problem: this.#join.problem };
  }

  /** Returns at once: the cluster may be down; the counter connects and starts when it can. */
  start(): void {
    counterStarted.emit(this.#log, { servers: this.#config.nats.servers, partitions: this.#config.partitions });
    this.#loop.start();
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
    // Hand over: publish what was counted, then free the leases for the others.
    for (const p of [...this.#leased.keys()]) await this.#release(p);
    await this.#leases?.release(`member.${this.#id}`).catch(() => {});
    await this.#join.bus?.close();
  }

  async #work(): Promise<void> {
    if (this.#join.problem) return;
    if (!this.#bus || !this.#leases) {
      if (!(await this.#connect())) return;
    }
    const bus = this.#bus!;
    for (const c of this.#counters.values()) c.mark();
    const state = await bus.streamState(this.#config.input.name);
    const maxBytes = bus.maxPayload - HEADER_ROOM;
    await Promise.all([...this.#counters.values()].map((c) => c.flush(state, maxBytes)));
    for (const [p, c] of this.#counters) {
      if (!c.fenced) continue;
      // Someone else wrote its progress (a new owner, or an operator): start again from it
      // if the lease is still ours (the next balance renews it or lets it go).
      this.#drop(p);
      await c.close();
    }
    await this.#balance();
    // A stream near its limits is trimmed every interval: with `discard = new` the edges wait for it.
    const pressed = (state.maxMsgs > 0 && state.messages > state.maxMsgs / 2) || (state.maxBytes > 0 && state.bytes > state.maxBytes / 2);
    if (pressed || Date.now() - this.#lastTrim >= TRIM_EVERY_MS) {
      this.#lastTrim = Date.now();
      await this.#trim();
    }
  }

  /** Joins the cluster (cluster-join.ts): false to try again next tick. */
  async #connect(): Promise<boolean> {
    const c = this.#config;
    const joined = await this.#join.join({
      partitions: { value: c.partitions, key: `${c.prefix}.partitions` },
      shards: { value: c.shards, key: `${c.prefix}.shards` },
      time: { value: c.time, key: `${c.prefix}.time` },
      counterBatchMs: { value: c.batchIntervalMs, key: `${c.prefix}.batchInterval` },
      logFormat: { value: c.logFormat, key: `${c.prefix}.logFormat` },
      stripQueryString: { value: String(c.stripQueryString), key: `${c.prefix}.stripQueryString` },
      dimensions: { value: c.dimensions.map((d) => d.name).join(' '), key: `${c.prefix}.dimensions` },
      visitorDimensions: visitorDimensions(c.dimensions, `${c.prefix}.logFormat`),
      fields: { value: JSON.stringify(c.fields), key: `${c.prefix}.fields` },
    }, async (bus) => {
      this.#records = await bus.records(c.progressBucket, c.replicas);
    });
    if (!joined) return false;
    this.#bus = joined.bus;
    this.#leases = joined.leases;
    counterConnected.emit(this.#log, { servers: c.nats.servers, partitions: c.partitions });
    return true;
  }

  /** Renews the leases held, then takes or frees partitions toward this counter's fair share. */
  async #balance(): Promise<void> {
    const leases = this.#leases!;
    await leases.put(`member.${this.#id}`, this.#id);
    for (const [p, revision] of this.#leased) {
      const next = await leases.renew(leaseKey(p), this.#id, revision).catch(() => revision);
      if (next === undefined) {
        leaseLost.emit(this.#log, { partition: p });
        this.#leased.delete(p);
        await this.#drop(p)?.close();
      } else this.#leased.set(p, next);
    }
    const members = Math.max(1, (await leases.keys('member.*')).length);
    const fair = Math.ceil(this.#config.partitions / members);
    while (this.#leased.size > fair) await this.#release(Math.max(...this.#leased.keys()));
    for (let p = 0; p < this.#config.partitions && this.#leased.size < fair; p++) {
      if (this.#leased.has(p)) continue;
      const revision = await leases.acquire(leaseKey(p), this.#id);
      if (revision !== undefined) this.#leased.set(p, revision);
    }
    for (const p of this.#leased.keys()) {
      if (this.#counters.has(p)) continue;
      this.#counters.set(p, await PartitionCounter.open(p, this.#bus!, this.#records!, this.#settings, this.#log));
    }
  }

  /** Takes a partition's counter out of the owned ones, keeping what it published in the stats. */
  #drop(p: number): PartitionCounter | undefined {
    const c = this.#counters.get(p);
    if (!c) return undefined;
    this.#counters.delete(p);
    this.#carry(p, c);
    return c;
  }

  /** Adds what a partition's counter published to the partition's figures from before. */
  #carry(p: number, c: PartitionCounter): void {
    const f = c.figures;
    const before = this.#carried.get(p) ?? { linesOut: 0, pairsOut: 0 };
    this.#carried.set(p, { linesOut: before.linesOut + f.linesOut, pairsOut: before.pairsOut + f.pairsOut });
  }

  /** Lets a partition go after publishing what it counted (if that fails the next owner recounts it). */
  async #release(p: number): Promise<void> {
    const c = this.#counters.get(p);
    this.#counters.delete(p);
    this.#leased.delete(p);
    if (c && this.#bus) {
      const bus = this.#bus;
      await c.close();
      c.mark();
      await bus.streamState(this.#config.input.name).then((state) => c.flush(state, bus.maxPayload - HEADER_ROOM)).catch(() => {});
    }
    if (c) this.#carry(p, c);
    await this.#leases?.release(leaseKey(p)).catch(() => {});
    partitionReleased.emit(this.#log, { partition: p });
  }

  /**
   * Trims LOGFLOW_EVENTS: each owned partition's edge subjects below the lowest `covered`
   * of all partitions (so the stream's first sequence says nothing of a partition that has
   * not counted that far: a gap is only ever the limits' or a hand's), and never an edge
   * subject's last message (a restarted edge reads it to know what it published).
   */
  async #trim(): Promise<void> {
    const bus = this.#bus!;
    const { input, partitions } = this.#config;
    const lowest = await lowestCovered(this.#records!, partitions);
    let purged = 0;
    for (const [p, c] of this.#counters) {
      for (const subject of (await bus.subjects(input.name, `${input.subject}.${p}.*`)).keys()) {
        const last = c.lastBySubject.get(subject) ?? (await bus.lastOnSubject(input.name, subject))?.seq ?? 0;
        const below = Math.min(lowest + 1, last);
        if (below <= (this.#trimmedBelow.get(subject) ?? 1)) continue;
        purged += await bus.purge(input.name, subject, below);
        this.#trimmedBelow.set(subject, below);
      }
    }
    if (purged > 0) eventsTrimmed.emit(this.#log, { stream: input.name, messages: purged, below: lowest + 1 });
  }
}

function leaseKey(p: number): string {
  return `partition.${p}`;
}

/** `type = url-count-partial` (components.ts): it starts at once, connecting when the cluster is up; its figures are `cluster.counters` of the stats. */
export function build(config: PartialCounterConfig, ctx: { readonly logger: Logger }) {
  const counter = new PartialCounter(config, ctx.logger);
  return {
    name: config.name,
    start: async () => counter.start(),
    stop: () => counter.stop(),
    stats: (): StatsPart => ({ counter: counter.figures }),
  };
}
