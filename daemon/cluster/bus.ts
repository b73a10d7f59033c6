import { LogflowError } from '../errors.js';

/**
 * The seam between logflow and a replicated, partitioned log (NATS JetStream today). The
 * jetstream sink, the partial counter and the query node's input use only this, so a Kafka
 * binding is one new file: a topic per stream, partitions as subjects, the producer's
 * idempotence for `id`, and a transactional producer (or a compacted topic) for the fence.
 */
export interface BusMessage {
  /** The stream's sequence number of the message (Kafka: the offset). */
  readonly seq: number;
  readonly data: Uint8Array;
  header(name: string): string | undefined;
}

export interface PublishOptions {
  /** Deduplication id: the same id published again (a retry) is stored once. */
  readonly id: string;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * The fence: stored only if the subject's last message is still at this sequence (0: the
   * subject has none), else the publish fails with `FencedError`.
   */
  readonly expectLastOnSubject?: number;
}

/** Another writer published on the subject since we looked: we no longer own it. */
export class FencedError extends LogflowError {
  constructor(message: string) {
    super('LF_FENCED', message);
  }
}

export interface StreamSpec {
  readonly name: string;
  /** Subjects are `<subject>.<partition>`. */
  readonly subject: string;
  readonly replicas: number;
}

export interface BusReader {
  stop(): Promise<void>;
}

export interface Bus {
  /** Creates the stream if it is missing (an existing one is left as it is). */
  ensureStream(spec: StreamSpec): Promise<void>;
  /** Resolves with the stored message's sequence once the stream acknowledged it. */
  publish(subject: string, data: Uint8Array, options: PublishOptions): Promise<number>;
  lastOnSubject(stream: string, subject: string): Promise<BusMessage | undefined>;
  /** Delivers the subject's messages from `fromSeq` on, in order, without gaps, across failures. */
  read(stream: string, subject: string, fromSeq: number, onMessage: (m: BusMessage) => void): BusReader;
  leases(bucket: string, ttlMs: number, replicas: number): Promise<Leases>;
  close(): Promise<void>;
}

/** Keys that expire unless renewed: who owns which partition, and who is alive. */
export interface Leases {
  /** The revision if the key was free and is now ours, else undefined. */
  acquire(key: string, owner: string): Promise<number | undefined>;
  /** The new revision, or undefined if the key changed hands (or expired and was taken). */
  renew(key: string, owner: string, revision: number): Promise<number | undefined>;
  put(key: string, owner: string): Promise<void>;
  release(key: string): Promise<void>;
  /** Live keys matching `filter` (`*` and `>` wildcards). */
  keys(filter: string): Promise<string[]>;
}

/** A stable 32-bit FNV-1a hash: the same key goes to the same partition on every edge. */
export function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}
