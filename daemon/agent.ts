import { LogflowError } from './errors.js';
import type { AgentConfig } from './agent-config.js';
import { gatherStats } from './agent-stats.js';
import { checkFdHeadroom } from './fd-headroom.js';
import { buildComponent, CHANNEL_TYPES, JOB_TYPES, ofType, SINK_TYPES, SOURCE_TYPES, type BuildContext, type ChannelComponent, type Component, type Endpoint } from './components.js';
import { ConfigError } from './errors.js';
import { HttpHost } from './http/index.js';
import type { JobStartOptions } from './job/index.js';
import type { Logger } from './log.js';
import { listening } from './startup-errors.js';
import { httpListening } from './telemetry/index.js';
import { apiStats, type Stats } from './telemetry/stats.js';
import { lowerThreadPriority } from './thread-priority.js';

/**
 * One agent of the configuration: its components built from the validated config by their
 * types' runtimes (components.ts) and wired source -> channel -> sink -> (Avro) -> job ->
 * store -> http. As in Flume, channels start first and close last. Start-up runs the flow
 * back to front so every stage finds its downstream ready; shutdown runs front to back so
 * every stage can drain into the next.
 */
export class Agent {
  readonly config: AgentConfig;
  readonly #log: Logger;
  #channels: ChannelComponent[] = [];
  /** Sources, sinks and jobs, in pipeline order. */
  #flow: Component[] = [];
  #http: HttpHost | undefined;

  constructor(config: AgentConfig, logger: Logger) {
    checkWiring(config);
    this.config = config;
    this.#log = logger;
  }

  /** The HTTP address actually bound (the configured port may be 0). */
  get httpAddress(): string | undefined {
    return this.#http?.address;
  }

  async start(options: JobStartOptions = {}): Promise<void> {
    checkFdHeadroom(this.config, this.#log);
    const { sources, sinks, jobs } = await this.#build(options);
    const http = this.config.http;
    if (http) {
      const job = jobs.find((j) => j.results);
      const results = job?.results;
      this.#http = new HttpHost(http, results, {
        stats: () => apiStats(this.stats()),
        files: () => this.#flow.flatMap((c) => c.fileList?.() ?? []),
        followed: () => this.#flow.flatMap((c) => c.followed?.() ?? []),
        metrics: () => this.stats(),
        top: (query) => (job?.liveTop ? job.liveTop(query) : Promise.reject(new LogflowError('LF_INVARIANT', 'this agent runs no job'))),
      }, this.#log);
    }
    // The HTTP thread loads Fastify while the job restores its checkpoint.
    const loading = this.#http?.load();
    for (const channel of this.#channels) await channel.start();
    for (const c of [...jobs, ...sinks]) await c.start();
    let nice: number | undefined;
    if (this.#http && http) {
      await loading;
      await listening(this.config.file, `${this.config.agent}.http`, () => this.#http!.listen());
      // After the HTTP thread exists (threads inherit their creator's priority).
      nice = lowerThreadPriority(http.pipelineNice);
    }
    for (const source of sources) await source.start();
    // Logged last: scripts and tests take this line to mean the whole pipeline runs.
    if (this.#http) httpListening.emit(this.#log, { address: this.httpAddress, httpThread: this.#http.threadId, pipelineNice: nice });
  }

  async stop(): Promise<void> {
    for (const channel of this.#channels) await channel.stop();
    for (const c of this.#flow) await c.stop();
    for (const c of this.#flow) await c.close?.();
    await this.#http?.close();
    for (const channel of this.#channels) await channel.close?.();
  }

  /** The one stats shape (telemetry/stats.ts): /api/stats shows it, /metrics renders it. */
  stats(): Stats {
    return gatherStats([...this.#channels, ...this.#flow].map((c) => c.stats()));
  }

  /**
   * Builds every component, back to front: channels, jobs, sinks, then sources, which find
   * who keeps their positions among what was built before. Nothing starts until all are built.
   */
  async #build(options: JobStartOptions) {
    const { agent, file } = this.config;
    const channels = new Map<string, ChannelComponent>();
    let local: Component | undefined;
    const context = (kind: string, name: string): BuildContext => ({
      file,
      key: `${agent}.${kind}.${name}`,
      logger: this.#log,
      options,
      pipelineNice: this.config.http?.pipelineNice ?? 0,
      channel: (n) => channels.get(n)!.channel,
      positionKeeper: (n) => local?.positionKeeper ?? channels.get(n)!.positionKeeper,
    });
    for (const c of this.config.channels) channels.set(c.name, await buildComponent(CHANNEL_TYPES, c, context('channels', c.name)));
    this.#channels = [...channels.values()];
    const jobs: Component[] = [];
    for (const c of this.config.jobs) jobs.push(await buildComponent(JOB_TYPES, c, context('jobs', c.name)));
    checkJobs(this.config, jobs);
    const sinks: Component[] = [];
    for (const c of this.config.sinks) sinks.push(await buildComponent(SINK_TYPES, c, context('sinks', c.name)));
    // When a sink feeds a job of this process, files finish on the job's checkpoint, not on
    // delivery, and resume from it after a crash: exactly-once instead of at-least-once.
    // Otherwise a channel that keeps positions keeps them for the sources that put into it.
    local = jobs.find((j) => j.positionKeeper && sinks.some((k) => feeds(k.deliversTo, j.receivesAt)));
    const sources: Component[] = [];
    for (const c of this.config.sources) sources.push(await buildComponent(SOURCE_TYPES, c, context('sources', c.name)));
    this.#flow = [...sources, ...sinks, ...jobs];
    return { sources, sinks, jobs };
  }
}

/** A sink delivering to `to` reaches the receiver listening at `at` (same port, same host or loopback). */
function feeds(to: Endpoint | undefined, at: Endpoint | undefined): boolean {
  if (!to || !at || to.port !== at.port) return false;
  const loopback = (h: string) => h === 'localhost' || h.startsWith('127.') || h === '::1';
  return to.host === at.host || (loopback(to.host) && (loopback(at.host) || at.host === '0.0.0.0' || at.host === '::'));
}

/** Checks that span components, as Flume does before it starts anything. */
function checkWiring(config: AgentConfig): void {
  const channels = new Map(config.channels.map((c) => [c.name, c]));
  const positionFiles = new Map<string, string>();
  for (const t of ofType(config.sources, 'TAILDIR')) {
    const other = positionFiles.get(t.positionFile);
    const key = `${config.agent}.sources.${t.name}.positionFile`;
    if (other) throw new ConfigError('LF_CONFIG_BAD_VALUE', `${config.file}: ${key} is ${other}'s too (${t.positionFile}); each TAILDIR source needs its own`, key);
    positionFiles.set(t.positionFile, t.name);
  }
  const kinds = [['sources', 'batchSize', config.sources], ['sinks', 'batch-size', config.sinks]] as const;
  for (const [kind, setting, components] of kinds) {
    for (const c of components) {
      if (!('batchSize' in c)) continue;
      const ch = channels.get(c.channel)!;
      if (c.batchSize > ch.transactionCapacity) {
        const key = `${config.agent}.${kind}.${c.name}.${setting}`;
        throw new ConfigError('LF_CONFIG_BAD_VALUE', `${config.file}: ${key} (${c.batchSize}) exceeds ${config.agent}.channels.${ch.name}.transactionCapacity (${ch.transactionCapacity})`, key);
      }
    }
  }
}

/** The store and the HTTP API serve one job's results. */
function checkJobs(config: AgentConfig, jobs: readonly Component[]): void {
  const withResults = jobs.filter((j) => j.results).length;
  if (withResults > 1) {
    throw new ConfigError('LF_CONFIG_BAD_VALUE', `${config.file}: ${config.agent}.jobs lists ${withResults} jobs; one is supported`, `${config.agent}.jobs`);
  }
}
