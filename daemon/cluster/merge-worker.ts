import type { StatsPart } from '../telemetry/stats.js';
import { TickLoop } from './tick-loop.js';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Bus, Leases, Records } from './bus.js';
import { ClusterJoin } from './cluster-join.js';
import type { Logger } from '../log.js';
import { ConfigError } from '../errors.js';
import { recordedSettings } from './cluster-settings.js';
import type { MergeWorkerConfig } from './merge-worker-config.js';
import type { ShardMergeSettings } from './shard-merge.js';
import { ShardWorker, type ShardFigures, type ShardStreams } from './shard-worker.js';
import { leaseLost, mergeConnected, mergeStarted, mergeTickFailed, shardReleased } from '../telemetry/index.js';

const HEADER_ROOM = 4096;
const PUBLISH_EVERY_MS = 250;

export interface MergeFigures {
  readonly name: string;
  readonly id: string;
  readonly shards: readonly ShardFigures[];
  readonly problem: string | null;
}

/**
 * The merge worker (`type = url-count-merge`): owns some of the merge shards through
 * leases (`shard.<q>` in the lease bucket) and runs a ShardWorker for each. Any number run
 * side by side and take fair shares; a worker that stops renewing loses its shards, and
 * the next owner rebuilds each from its published state.
 */
export class MergeWorker {
  readonly name: string;
  readonly #config: MergeWorkerConfig;
  readonly #log: Logger;
  readonly #id = `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  readonly #leased = new Map<number, number>();
  readonly #shards = new Map<number, ShardWorker>();
  readonly #streams: ShardStreams;
  #bus: Bus | undefined;
  #leases: Leases | undefined;
  #settingsRecords: Records | undefined;
  readonly #loop: TickLoop;
  readonly #join: ClusterJoin;
  #lastBalance = 0;

  constructor(config: MergeWorkerConfig, logger: Logger) {
    this.name = config.name;
    this.#config = config;
    this.#log = logger.child({ job: config.name, merge: this.#id });
    this.#join = new ClusterJoin(config, `logflow-merge-${this.#id}`, this.#log);
    this.#streams = { input: config.input.name, inputSubject: config.input.subject, output: config.output.name, outputSubject: config.output.subject };
    // Results go out a quarter second after they are made; leases are renewed once per interval.
    this.#loop = new TickLoop({ log: this.#log, work: () => this.#work(), next: () => Math.min(PUBLISH_EVERY_MS, config.batchIntervalMs), failed: mergeTickFailed });
  }

  get shards(): number[] {
    return [...this.#shards.keys()].sort((a, b) => a - b);
  }

  get figures(): MergeFigures {
    return { name: this.name, id: this.#id, shards: this.shards.map((q) => this.#shards.get(q)!.figures), problem: this.#join.problem };
  }

  start(): void {
    mergeStarted.emit(this.#log, { servers: this.#config.nats.servers, shards: this.#config.shards });
    this.#loop.start();
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
    for (const q of [...this.#leased.keys()]) await this.#release(q);
    await this.#leases?.release(`merger.${this.#id}`).catch(() => {});
    await this.#join.bus?.close();
  }

  async #work(): Promise<void> {
    if (this.#join.problem) return;
    if (!this.#bus || !this.#leases) {
      if (!(await this.#connect())) return;
    }
    await Promise.all([...this.#shards.values()].map(async (w) => {
      await w.checkGap(this.#settingsRecords!);
      await w.publish();
    }));
    for (const [q, w] of this.#shards) {
      if (!w.fenced) continue;
      this.#shards.delete(q);
      await w.close();
    }
    if (Date.now() - this.#lastBalance < this.#config.batchIntervalMs) return;
    this.#lastBalance = Date.now();
    await this.#balance();
  }

  /** Joins the cluster (cluster-join.ts): false to try again next tick. */
  async #connect(): Promise<boolean> {
    const c = this.#config;
    const joined = await this.#join.join({
      partitions: { value: c.partitions, key: `${c.prefix}.partitions` },
      shards: { value: c.shards, key: `${c.prefix}.shards` },
      time: { value: c.time, key: `${c.prefix}.time` },
      batchMs: { value: c.batchIntervalMs, key: `${c.prefix}.batchInterval` },
      windowMs: { value: c.windowDurationMs, key: `${c.prefix}.windowDuration` },
      slideMs: { value: c.slideDurationMs, key: `${c.prefix}.slideDuration` },
      topN: { value: c.topN, key: `${c.prefix}.topN` },
    }, async (_bus, settings) => {
      const counterBatch = (await recordedSettings(settings)).counterBatchMs;
      if (counterBatch && c.batchIntervalMs % Number(counterBatch.value) !== 0) {
        throw new ConfigError('LF_CLUSTER_MISMATCH', `${c.prefix}.batchInterval = ${c.batchIntervalMs / 1000}, but the counters' batchInterval (${Number(counterBatch.value) / 1000} s, ${counterBatch.key} of ${counterBatch.by}) does not divide it`, `${c.prefix}.batchInterval`);
      }
    });
    if (!joined) return false;
    this.#bus = joined.bus;
    this.#settingsRecords = joined.settings;
    this.#leases = joined.leases;
    mergeConnected.emit(this.#log, { servers: c.nats.servers, shards: c.shards });
    return true;
  }

  #settings(shard: number): ShardMergeSettings {
    const c = this.#config;
    return {
      shard,
      shards: c.shards,
      partitions: c.partitions,
      batchMs: c.batchIntervalMs,
      windowMs: c.windowDurationMs,
      slideMs: c.slideDurationMs,
      topN: c.topN,
      eventTime: c.time === 'event',
      watermarkMs: c.watermarkMs,
      idleTimeoutMs: c.idleTimeoutMs,
      maxBytes: this.#bus!.maxPayload - HEADER_ROOM,
    };
  }

  async #balance(): Promise<void> {
    const leases = this.#leases!;
    await leases.put(`merger.${this.#id}`, this.#id);
    for (const [q, revision] of this.#leased) {
      const next = await leases.renew(leaseKey(q), this.#id, revision).catch(() => revision);
      if (next === undefined) {
        leaseLost.emit(this.#log, { shard: q });
        this.#leased.delete(q);
        const w = this.#shards.get(q);
        this.#shards.delete(q);
        await w?.close();
      } else this.#leased.set(q, next);
    }
    const members = Math.max(1, (await leases.keys('merger.*')).length);
    const fair = Math.ceil(this.#config.shards / members);
    while (this.#leased.size > fair) await this.#release(Math.max(...this.#leased.keys()));
    for (let q = 0; q < this.#config.shards && this.#leased.size < fair; q++) {
      if (this.#leased.has(q)) continue;
      const revision = await leases.acquire(leaseKey(q), this.#id);
      if (revision !== undefined) this.#leased.set(q, revision);
    }
    for (const q of this.#leased.keys()) {
      if (this.#shards.has(q)) continue;
      this.#shards.set(q, await ShardWorker.open(q, this.#bus!, this.#streams, this.#settings(q), this.#log));
    }
  }

  /** Publishes what the shard made, then lets it go. */
  async #release(q: number): Promise<void> {
    const w = this.#shards.get(q);
    this.#shards.delete(q);
    this.#leased.delete(q);
    if (w) {
      await w.close();
      await w.publish().catch(() => {});
    }
    await this.#leases?.release(leaseKey(q)).catch(() => {});
    shardReleased.emit(this.#log, { shard: q });
  }
}

function leaseKey(q: number): string {
  return `shard.${q}`;
}

/** `type = url-count-merge` (components.ts): it starts at once, connecting when the cluster is up; its figures are `cluster.merges` of the stats. */
export function build(config: MergeWorkerConfig, ctx: { readonly logger: Logger }) {
  const worker = new MergeWorker(config, ctx.logger);
  return {
    name: config.name,
    start: async () => worker.start(),
    stop: () => worker.stop(),
    stats: (): StatsPart => ({ merge: worker.figures }),
  };
}
