import type { Bus, BusReader } from './bus.js';
import { FencedError } from './bus.js';
import type { Logger } from '../log.js';
import { coveredBy, encodePartial, partialId, PartialBuilder, type PartialCounts } from './partial-counts.js';
import { partialPublishFailed, partitionFenced, partitionTaken } from '../telemetry/index.js';

/**
 * A partial is cut (at a message boundary) past this many distinct (batch, URL) pairs, about
 * 40 bytes each in JSON: a historical log read fast spans many batches per interval, and a
 * message must stay under the server's max_payload (1 MB by default).
 */
const MAX_ENTRIES = 10_000;

export interface PartitionSettings {
  readonly input: string;
  readonly inputSubject: string;
  readonly output: string;
  readonly outputSubject: string;
  readonly newBuilder: () => PartialBuilder;
}

/**
 * One partition a counter owns: reads its events after the last sequence its last partial
 * covers (read from the output stream itself, so nothing else needs to be stored), counts
 * them, and publishes one partial per batch interval. The publish is fenced on the
 * subject's last sequence: if another counter published for the partition meanwhile (a
 * lease that expired during a pause), it fails and this one lets the partition go, so a
 * count is neither lost nor doubled whoever crashes when.
 */
export class PartitionCounter {
  readonly partition: number;
  readonly #bus: Bus;
  readonly #s: PartitionSettings;
  readonly #log: Logger;
  #builder: PartialBuilder;
  /** Built, not yet acknowledged, oldest first: each resent as it is (same id) until it is. */
  readonly #unsent: PartialCounts[] = [];
  #failures = 0;
  #lastOnSubject = 0;
  #reader: BusReader | undefined;
  #fenced = false;
  #lastRead = 0;

  private constructor(partition: number, bus: Bus, settings: PartitionSettings, log: Logger) {
    this.partition = partition;
    this.#bus = bus;
    this.#s = settings;
    this.#log = log.child({ partition });
    this.#builder = settings.newBuilder();
  }

  static async open(partition: number, bus: Bus, settings: PartitionSettings, log: Logger): Promise<PartitionCounter> {
    const pc = new PartitionCounter(partition, bus, settings, log);
    const last = await bus.lastOnSubject(settings.output, `${settings.outputSubject}.${partition}`);
    const covered = coveredBy(last?.header('Nats-Msg-Id'));
    pc.#lastOnSubject = last?.seq ?? 0;
    pc.#reader = bus.read(settings.input, `${settings.inputSubject}.${partition}`, covered + 1, (m) => {
      const ts = Number(m.header('timestamp') ?? NaN);
      pc.#lastRead = m.seq;
      pc.#builder.add(m.seq, Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength), ts);
      if (pc.#builder.entries >= MAX_ENTRIES) pc.#cut();
    });
    partitionTaken.emit(pc.#log, { resumeAfter: covered });
    return pc;
  }

  /** The sequence of the last event read (counted, maybe not yet published). */
  get lastRead(): number {
    return this.#lastRead;
  }

  /** True once another counter has published for this partition: drop it. */
  get fenced(): boolean {
    return this.#fenced;
  }

  #cut(): void {
    if (this.#builder.empty) return;
    this.#unsent.push(this.#builder.build(this.partition));
    this.#builder = this.#s.newBuilder();
  }

  /**
   * Publishes what was counted since the last partial; false if it could not (retried next
   * time). A resend is dropped as a duplicate (same id, same range), and a partial whose
   * range another counter covered differently meanwhile is refused by the fence.
   */
  async flush(): Promise<boolean> {
    this.#cut();
    while (!this.#fenced && this.#unsent.length > 0) {
      const partial = this.#unsent[0]!;
      try {
        this.#lastOnSubject = await this.#bus.publish(`${this.#s.outputSubject}.${this.partition}`, encodePartial(partial), {
          id: partialId(partial),
          expectLastOnSubject: this.#lastOnSubject,
        });
        this.#unsent.shift();
        this.#failures = 0;
      } catch (err) {
        if (err instanceof FencedError) {
          this.#fenced = true;
          partitionFenced.emit(this.#log, {});
        } else if (this.#failures++ % 50 === 0) {
          partialPublishFailed.emit(this.#log, { err: (err as Error).message, attempt: this.#failures });
        }
        return false;
      }
    }
    return !this.#fenced;
  }

  /** Stops reading; `flush` first to hand over without recounting. */
  async close(): Promise<void> {
    await this.#reader?.stop();
  }
}
