import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Bus, Leases } from './bus.js';
import { JetStreamBus } from './jetstream-bus.js';
import type { Logger } from '../log.js';
import { compileUrlParser } from '../logformat/log-format.js';
import type { PartialCounterConfig } from './partial-counter-config.js';
import { PartialBuilder } from './partial-counts.js';
import { PartitionCounter, type PartitionSettings } from './partition-counter.js';
import { counterConnected, counterStarted, counterTickFailed, leaseLost, partitionReleased } from '../telemetry/index.js';

/**
 * The stateless counter (`type = url-count-partial`): owns some of the partitions through
 * leases in a KV bucket, and for each publishes partial counts every batch interval. Any
 * number run side by side; each takes its fair share (partitions / live counters), and the
 * partitions of a counter that stops renewing are taken over once its leases expire.
 */
export class PartialCounter {
  readonly name: string;
  readonly #config: PartialCounterConfig;
  readonly #log: Logger;
  readonly #id = `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  readonly #owned = new Map<number, { counter: PartitionCounter; revision: number }>();
  readonly #settings: PartitionSettings;
  #bus: Bus | undefined;
  #leases: Leases | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;
  #tick: Promise<void> = Promise.resolve();

  constructor(config: PartialCounterConfig, logger: Logger) {
    this.name = config.name;
    this.#config = config;
    this.#log = logger.child({ job: config.name, counter: this.#id });
    const findUrl = compileUrlParser(config.logFormat, config.stripQueryString);
    this.#settings = {
      input: config.input,
      inputSubject: config.inputSubject,
      output: config.output,
      outputSubject: config.outputSubject,
      newBuilder: () => new PartialBuilder(findUrl, config.batchIntervalMs, config.time === 'event'),
    };
  }

  /** Owned partitions, for tests and logs. */
  get partitions(): number[] {
    return [...this.#owned.keys()].sort((a, b) => a - b);
  }

  /** Returns at once: the cluster may be down; the counter connects and starts when it can. */
  start(): void {
    counterStarted.emit(this.#log, { servers: this.#config.servers, partitions: this.#config.partitions });
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#timer);
    await this.#tick;
    // Hand over: publish what was counted, then free the leases for the others.
    for (const p of [...this.#owned.keys()]) await this.#release(p);
    await this.#leases?.release(`member.${this.#id}`).catch(() => {});
    await this.#bus?.close();
  }

  #schedule(ms: number): void {
    if (this.#stopping) return;
    this.#timer = setTimeout(() => {
      this.#tick = this.#work().catch((err: Error) => counterTickFailed.emit(this.#log, { err: err.message }));
      void this.#tick.then(() => this.#schedule(this.#config.batchIntervalMs));
    }, ms);
  }

  async #work(): Promise<void> {
    if (!this.#bus || !this.#leases) await this.#connect();
    await Promise.all([...this.#owned.values()].map(({ counter }) => counter.flush()));
    for (const [p, o] of this.#owned) if (o.counter.fenced) await this.#drop(p);
    await this.#balance();
  }

  async #connect(): Promise<void> {
    const c = this.#config;
    const bus = this.#bus ?? (this.#bus = await JetStreamBus.connect(c.servers, `logflow-counter-${this.#id}`, this.#log));
    await bus.ensureStream({ name: c.input, subject: c.inputSubject, replicas: c.replicas });
    await bus.ensureStream({ name: c.output, subject: c.outputSubject, replicas: c.replicas });
    this.#leases = await bus.leases(c.leaseBucket, c.leaseTimeoutMs, c.replicas);
    counterConnected.emit(this.#log, { servers: c.servers, partitions: c.partitions });
  }

  /** Renews the leases held, then takes or frees partitions toward this counter's fair share. */
  async #balance(): Promise<void> {
    const leases = this.#leases!;
    await leases.put(`member.${this.#id}`, this.#id);
    for (const [p, o] of this.#owned) {
      const revision = await leases.renew(leaseKey(p), this.#id, o.revision).catch(() => o.revision);
      if (revision === undefined) {
        leaseLost.emit(this.#log, { partition: p });
        await this.#drop(p);
      } else o.revision = revision;
    }
    const members = Math.max(1, (await leases.keys('member.*')).length);
    const fair = Math.ceil(this.#config.partitions / members);
    while (this.#owned.size > fair) await this.#release(Math.max(...this.#owned.keys()));
    for (let p = 0; p < this.#config.partitions && this.#owned.size < fair; p++) {
      if (this.#owned.has(p)) continue;
      const revision = await leases.acquire(leaseKey(p), this.#id);
      if (revision === undefined) continue;
      try {
        const counter = await PartitionCounter.open(p, this.#bus!, this.#settings, this.#log);
        this.#owned.set(p, { counter, revision });
      } catch (err) {
        await leases.release(leaseKey(p)).catch(() => {});
        throw err;
      }
    }
  }

  /** Lets a partition go after publishing what it counted (if that fails the next owner recounts it). */
  async #release(p: number): Promise<void> {
    const o = this.#owned.get(p);
    if (!o) return;
    await o.counter.close();
    await o.counter.flush();
    this.#owned.delete(p);
    await this.#leases?.release(leaseKey(p)).catch(() => {});
    partitionReleased.emit(this.#log, { partition: p });
  }

  /** Lets a partition go without publishing (someone else owns it now). */
  async #drop(p: number): Promise<void> {
    const o = this.#owned.get(p);
    if (!o) return;
    this.#owned.delete(p);
    await o.counter.close();
  }
}

function leaseKey(p: number): string {
  return `partition.${p}`;
}

/** `type = url-count-partial` (components.ts): it starts at once, connecting when the cluster is up; its figures are its log lines. */
export function build(config: PartialCounterConfig, ctx: { readonly logger: Logger }) {
  const counter = new PartialCounter(config, ctx.logger);
  return {
    name: config.name,
    start: async () => counter.start(),
    stop: () => counter.stop(),
    stats: () => ({}),
  };
}
