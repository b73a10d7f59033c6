import type { Bus, BusReader } from './bus.js';
import { JetStreamBus } from './jetstream-bus.js';
import type { Logger } from '../log.js';
import type { CountsInputConfig } from './counts-input-config.js';
import { decodePartial, type PartialCounts } from './partial-counts.js';
import { countsStreamUnreachable, notAPartialCount, readingPartialCounts } from '../telemetry/index.js';

/** What the query node's input needs from the job: where it is, and where to put partials. */
export interface PartialSink {
  /** The last sequence of `key` in the job's state (restored from its checkpoint). */
  committed(key: string): number | undefined;
  /** Applies a partial once: a sequence at or below the recorded one is a duplicate. */
  applyPartial(key: string, seq: number, partial: PartialCounts): void;
}

/**
 * The query node's input: reads the counts stream after the last sequence its checkpoint
 * holds and applies each partial to the job's window. The sequence is checkpointed with
 * the window, so after a crash the node resumes exactly where its counted state ends.
 */
export class CountsInput {
  readonly #config: CountsInputConfig;
  readonly #job: PartialSink;
  readonly #log: Logger;
  readonly #key: string;
  #bus: Bus | undefined;
  #reader: BusReader | undefined;
  #stopping = false;
  #connecting: Promise<void> = Promise.resolve();

  constructor(config: CountsInputConfig, job: PartialSink, logger: Logger) {
    this.#config = config;
    this.#job = job;
    this.#log = logger.child({ input: 'jetstream', stream: config.stream });
    this.#key = `jetstream:${config.stream}`;
  }

  /** Returns at once: the cluster may be down; reading starts when it is reachable. */
  start(): void {
    this.#connecting = this.#connect();
  }

  async #connect(): Promise<void> {
    const c = this.#config;
    while (!this.#stopping) {
      try {
        this.#bus ??= await JetStreamBus.connect(c.servers, 'logflow-query', this.#log);
        await this.#bus.ensureStream({ name: c.stream, subject: c.subject, replicas: c.replicas });
        break;
      } catch (err) {
        countsStreamUnreachable.emit(this.#log, { err: (err as Error).message });
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    if (this.#stopping) return;
    const from = (this.#job.committed(this.#key) ?? 0) + 1;
    readingPartialCounts.emit(this.#log, { from });
    this.#reader = this.#bus!.read(c.stream, `${c.subject}.>`, from, (m) => {
      let partial: PartialCounts;
      try {
        partial = decodePartial(m.data);
      } catch (err) {
        // Not a counter's message (someone published by hand): nothing to count in it.
        notAPartialCount.emit(this.#log, { seq: m.seq, err: (err as Error).message });
        return;
      }
      this.#job.applyPartial(this.#key, m.seq, partial);
    });
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#connecting;
    await this.#reader?.stop();
    await this.#bus?.close();
  }
}
