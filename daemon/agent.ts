import { FileChannel, MemoryChannel, type Channel } from './channel/index.js';
import type { AgentConfig } from './agent-config.js';
import { ConfigError } from './errors.js';
import { HttpHost } from './http/index.js';
import { gatherStats } from './agent-stats.js';
import { apiStats, type Stats } from './telemetry/stats.js';
import type { PipelinedSink } from './sink/delivery.js';
import { JobHost, type JobStartOptions } from './job/index.js';
import { timingOf } from './job/url-window-config.js';
import type { Logger } from './log.js';
import { AvroSink } from './sink/index.js';
import { JetStreamSink } from './sink/jetstream/jetstream-sink.js';
import { PartialCounter } from './cluster/partial-counter.js';
import { MergeWorker } from './cluster/merge-worker.js';
import { AvroSource, SpoolDirSource } from './source/index.js';
import { listening, settingError, type FailedSetting } from './startup-errors.js';
import { lowerThreadPriority } from './thread-priority.js';
import { httpListening } from './telemetry/index.js';

/**
 * One agent of the configuration: its components built from the validated config and
 * wired source -> channel -> sink -> (Avro) -> job -> store -> http. Start-up runs the
 * pipeline back to front so every stage finds its downstream ready; shutdown runs front
 * to back so every stage can drain into the next.
 */
export class Agent {
  readonly config: AgentConfig;
  readonly #log: Logger;
  readonly #channels: Map<string, Channel>;
  readonly #sources: SpoolDirSource[];
  readonly #avroSources: AvroSource[];
  readonly #sinks: PipelinedSink<unknown>[];
  readonly #counters: PartialCounter[];
  readonly #merges: MergeWorker[];
  readonly #job: JobHost | undefined;
  #http: HttpHost | undefined;

  constructor(config: AgentConfig, logger: Logger) {
    checkWiring(config);
    this.config = config;
    this.#log = logger;
    this.#channels = new Map(config.channels.map((c) => [c.name, c.type === 'file' ? new FileChannel(c, logger) : new MemoryChannel(c)]));
    this.#sinks = [
      ...config.sinks.map((c) => new AvroSink(c, this.#channels.get(c.channel)!, logger)),
      ...config.jetstreamSinks.map((c) => new JetStreamSink(c, this.#channels.get(c.channel)!, logger)),
    ];
    this.#counters = config.counters.map((c) => new PartialCounter(c, logger));
    this.#merges = config.merges.map((c) => new MergeWorker(c, logger));
    const jobConfig = config.jobs[0];
    if (jobConfig) this.#job = new JobHost(jobConfig, logger, `${config.agent}.jobs.${jobConfig.name}`);
    // When the sink feeds this process's job, files finish on the job's checkpoint, not
    // on delivery, and resume from it after a crash: exactly-once instead of at-least-once.
    const job = this.#job;
    const local = job && jobConfig && config.sinks.some((k) => k.port === jobConfig.port && isSameHost(k.hostname, jobConfig.bind));
    this.#sources = config.sources.map((c) => {
      const channel = this.#channels.get(c.channel)!;
      // Otherwise a file channel keeps the positions: a file resumes after the last batch
      // put durably, and finishes once all of it is in the channel.
      const durable = !local && channel instanceof FileChannel ? channel : undefined;
      const source = new SpoolDirSource(c, channel, logger, local ? job : durable);
      if (local) {
        job.addLocalSource(source.sourceId);
        job.onCommit(() => void source.completeFinished());
      }
      durable?.trackSource(source.sourceId);
      return source;
    });
    this.#avroSources = config.avroSources.map((c) => new AvroSource(c, this.#channels.get(c.channel)!, logger));
  }

  /** The HTTP address actually bound (the configured port may be 0). */
  get httpAddress(): string | undefined {
    return this.#http?.address;
  }

  async start(opts: JobStartOptions = {}): Promise<void> {
    const http = this.config.http;
    const job = this.config.jobs[0];
    if (http) {
      this.#http = new HttpHost(http, job && timingOf(job), job?.database, {
        stats: () => apiStats(this.stats()),
        files: () => this.#sources.flatMap((s) => s.fileList()),
        metrics: () => this.stats(),
      }, this.#log);
    }
    // The HTTP thread loads Fastify while the job restores its checkpoint.
    const loading = this.#http?.load();
    for (const ch of this.#channels.values()) if (ch instanceof FileChannel) await ch.open();
    const a = this.config.agent;
    if (this.#job && job) {
      await this.#job.start(opts, http?.pipelineNice ?? 0).catch((err: Error & { setting?: FailedSetting }) => {
        throw err.setting ? settingError(this.config.file, `${a}.jobs.${job.name}`, err.setting, err) : err;
      });
    }
    for (const merge of this.#merges) merge.start();
    for (const counter of this.#counters) counter.start();
    for (const sink of this.#sinks) sink.start();
    let nice: number | undefined;
    if (this.#http && http) {
      await loading;
      await listening(this.config.file, `${a}.http`, () => this.#http!.listen());
      // After the HTTP thread exists (threads inherit their creator's priority).
      nice = lowerThreadPriority(http.pipelineNice);
    }
    for (const source of this.#avroSources) await listening(this.config.file, `${a}.sources.${source.name}`, () => source.start());
    for (const [i, source] of this.#sources.entries()) {
      const spoolDir = this.config.sources[i]!.spoolDir;
      await source.start().catch((err: NodeJS.ErrnoException) => {
        const why = `${spoolDir}: ${err.code}: the daemon needs read and write access to the spool directory (it renames finished files there)`;
        throw err.code ? settingError(this.config.file, `${a}.sources.${source.name}`, 'spoolDir', { message: why }) : err;
      });
    }
    // Logged last: scripts and tests take this line to mean the whole pipeline runs.
    if (this.#http) httpListening.emit(this.#log, { address: this.httpAddress, httpThread: this.#http.threadId, pipelineNice: nice });
  }

  async stop(): Promise<void> {
    // A source waiting for room in a full channel (downstream down) could never stop.
    for (const ch of this.#channels.values()) ch.admitOverCapacity();
    for (const source of this.#avroSources) await source.stop();
    for (const source of this.#sources) await source.stop();
    for (const sink of this.#sinks) await sink.stop();
    for (const counter of this.#counters) await counter.stop();
    for (const merge of this.#merges) await merge.stop();
    await this.#job?.stop();
    for (const source of this.#sources) {
      await source.completeFinished();
      source.close();
    }
    await this.#http?.close();
    for (const ch of this.#channels.values()) await ch.close();
  }

  /** The one stats shape (telemetry/stats.ts): /api/stats shows it, /metrics renders it. */
  stats(): Stats {
    return gatherStats({
      job: this.#job?.stats(),
      sources: this.#sources,
      avroSources: this.#avroSources,
      sinks: this.#sinks,
      channels: this.#channels.values(),
      counters: this.#counters,
      merges: this.#merges,
    });
  }
}

function isSameHost(sinkHost: string, bind: string): boolean {
  const loopback = (h: string) => h === 'localhost' || h.startsWith('127.') || h === '::1';
  return sinkHost === bind || (loopback(sinkHost) && (loopback(bind) || bind === '0.0.0.0' || bind === '::'));
}

/** Checks that span components, as Flume does before it starts anything. */
function checkWiring(config: AgentConfig): void {
  if (config.jobs.length > 1) {
    throw new ConfigError('LF_CONFIG_BAD_VALUE', `${config.file}: ${config.agent}.jobs lists ${config.jobs.length} jobs; one is supported`, `${config.agent}.jobs`);
  }
  const channels = new Map(config.channels.map((c) => [c.name, c]));
  for (const s of config.sources) {
    const ch = channels.get(s.channel)!;
    if (s.batchSize > ch.transactionCapacity) {
      throw new ConfigError('LF_CONFIG_BAD_VALUE', `${config.file}: ${config.agent}.sources.${s.name}.batchSize (${s.batchSize}) exceeds ${config.agent}.channels.${ch.name}.transactionCapacity (${ch.transactionCapacity})`, `${config.agent}.sources.${s.name}.batchSize`);
    }
  }
  for (const k of [...config.sinks, ...config.jetstreamSinks]) {
    const ch = channels.get(k.channel)!;
    if (k.batchSize > ch.transactionCapacity) {
      throw new ConfigError('LF_CONFIG_BAD_VALUE', `${config.file}: ${config.agent}.sinks.${k.name}.batch-size (${k.batchSize}) exceeds ${config.agent}.channels.${ch.name}.transactionCapacity (${ch.transactionCapacity})`, `${config.agent}.sinks.${k.name}.batch-size`);
    }
  }
}
