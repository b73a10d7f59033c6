import { WireError } from './wire-bytes.js';
import type { Records } from './bus.js';

/**
 * A counter's progress on one partition, kept in a record of its own (key `counter.<p>` of
 * the progress bucket), not in the partials: LOGFLOW_COUNTS may expire them (a max age), and
 * a counter that resumed from "the last partial" then counted everything again.
 *
 * - `covered`: every event of the partition with a stream sequence up to this is in a
 *   partial that was published;
 * - `pending`: a partial `(covered, pending.to]` being published. Whoever owns the partition
 *   next republishes exactly that partial (the same events, cut at the same place, with the
 *   same times: the same messages), so a crash between the publish and this record's next
 *   write neither loses nor doubles it.
 *
 * Every write names the revision it replaces: a counter that lost its lease (paused past it)
 * fails its next write and lets the partition go. That is the fence.
 */
export interface Progress {
  readonly covered: number;
  /** Processing time: the partition's events stored before this are counted. */
  readonly wmMs: number;
  readonly pending: PendingPartial | null;
}

export interface PendingPartial {
  readonly to: number;
  readonly atMs: number;
  readonly wmMs: number;
}

export const NO_PROGRESS: Progress = Object.freeze({ covered: 0, wmMs: 0, pending: null });

export function progressKey(partition: number): string {
  return `counter.${partition}`;
}

/** The record of a partition, held by its owner: each write is checked against the last. */
export class PartitionProgress {
  readonly #records: Records;
  readonly #key: string;
  #revision: number;
  #value: Progress;

  private constructor(records: Records, key: string, revision: number, value: Progress) {
    this.#records = records;
    this.#key = key;
    this.#revision = revision;
    this.#value = value;
  }

  /** Reads the record (creating it when the partition has never been counted). */
  static async open(records: Records, partition: number): Promise<PartitionProgress> {
    const key = progressKey(partition);
    for (;;) {
      const got = await records.get(key);
      if (got) return new PartitionProgress(records, key, got.revision, decode(got.value));
      const revision = await records.create(key, encode(NO_PROGRESS));
      if (revision !== undefined) return new PartitionProgress(records, key, revision, NO_PROGRESS);
    }
  }

  get value(): Progress {
    return this.#value;
  }

  /**
   * A stopped partition's record, if someone else wrote it since: an operator who accepts
   * the gap (`{"acceptGapTo": N}`), or another owner.
   */
  async written(): Promise<{ acceptGapTo?: number; revision: number } | undefined> {
    const got = await this.#records.get(this.#key);
    if (!got || got.revision === this.#revision) return undefined;
    const value = JSON.parse(new TextDecoder().decode(got.value)) as { acceptGapTo?: unknown };
    return { revision: got.revision, ...(typeof value.acceptGapTo === 'number' && { acceptGapTo: value.acceptGapTo }) };
  }

  /** Takes an operator's write as the one the next write replaces (the value stays this owner's). */
  adopt(revision: number): void {
    this.#revision = revision;
  }

  /** Writes `next` over the value read; false if someone else wrote since (fenced). */
  async write(next: Progress): Promise<boolean> {
    const revision = await this.#records.update(this.#key, encode(next), this.#revision);
    if (revision === undefined) return false;
    this.#revision = revision;
    this.#value = next;
    return true;
  }
}

function encode(p: Progress): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(p));
}

function decode(data: Uint8Array): Progress {
  const p = JSON.parse(new TextDecoder().decode(data)) as Partial<Progress>;
  if (typeof p.covered !== 'number') throw new WireError(`not a progress record: ${new TextDecoder().decode(data).slice(0, 100)}`);
  return { covered: p.covered, wmMs: p.wmMs ?? 0, pending: p.pending ?? null };
}

/** The lowest `covered` of all partitions (0 while one has none): LOGFLOW_EVENTS is trimmed below it. */
export async function lowestCovered(records: Records, partitions: number): Promise<number> {
  let lowest = Infinity;
  for (let p = 0; p < partitions; p++) {
    const got = await records.get(progressKey(p));
    lowest = Math.min(lowest, got ? decode(got.value).covered : 0);
  }
  return lowest === Infinity ? 0 : lowest;
}
