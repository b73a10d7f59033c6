import type { Bus, BusReader } from '../../bus/bus.js';
import { FencedError } from '../../bus/bus.js';
import type { Logger } from '../../log.js';
import { coveredBy, encodePartial, partialId, PartialBuilder, type PartialCounts } from './partial-counts.js';

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
  /** Built, not yet acknowledged: resent as it is (same id) until it is. */
  #unsent: PartialCounts | undefined;
  #lastOnSubject = 0;
  #reader: BusReader | undefined;
  #fenced = false;

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
      pc.#builder.add(m.seq, Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength), ts);
    });
    pc.#log.info({ resumeAfter: covered }, 'partition taken');
    return pc;
  }

  /** True once another counter has published for this partition: drop it. */
  get fenced(): boolean {
    return this.#fenced;
  }

  /** Publishes what was counted since the last partial; false if it could not (retried next time). */
  async flush(): Promise<boolean> {
    if (this.#fenced) return false;
    if (!this.#unsent && !this.#builder.empty) {
      this.#unsent = this.#builder.build(this.partition);
      this.#builder = this.#s.newBuilder();
    }
    const partial = this.#unsent;
    if (!partial) return true;
    try {
      this.#lastOnSubject = await this.#bus.publish(`${this.#s.outputSubject}.${this.partition}`, encodePartial(partial), {
        id: partialId(partial),
        expectLastOnSubject: this.#lastOnSubject,
      });
      this.#unsent = undefined;
      return true;
    } catch (err) {
      if (err instanceof FencedError) {
        this.#fenced = true;
        this.#log.warn('another counter published for this partition; letting it go');
      } else {
        this.#log.debug({ err }, 'publishing a partial failed; retrying next batch interval');
      }
      return false;
    }
  }

  /** Stops reading; `flush` first to hand over without recounting. */
  async close(): Promise<void> {
    await this.#reader?.stop();
  }
}
