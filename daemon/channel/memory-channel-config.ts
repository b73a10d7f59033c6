import type { PropertyReader, ReadContext } from '../conf/index.js';

export interface MemoryChannelConfig {
  readonly name: string;
  readonly type: 'memory';
  readonly capacity: number;
  readonly transactionCapacity: number;
  /** Flume's `keep-alive`: how long an avro source's put waits for room before FAILED. */
  readonly keepAliveMs?: number;
}

/** Reads `<agent>.channels.<name>.*` of a memory channel. */
export function read(r: PropertyReader, p: string, { name }: ReadContext): MemoryChannelConfig {
  const capacity = r.int(p + '.capacity', 100, 1, 100_000_000);
  const transactionCapacity = r.int(p + '.transactionCapacity', 100, 1, capacity);
  return Object.freeze({ name, type: 'memory', capacity, transactionCapacity, keepAliveMs: r.seconds(p + '.keep-alive', 3, 0) });
}
