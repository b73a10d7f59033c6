import { LogflowError } from '../errors.js';

/**
 * The seam between logflow and a replicated, partitioned log (NATS JetStream today). The
 * jetstream sink, the counters, the merge workers and the query nodes use only this, so a
 * Kafka binding is one new file: a topic per stream, partitions as subjects, the producer's
 * idempotence for `id`, a transactional producer (or a compacted topic) for the fences, a
 * compacted topic for the records.
 */
export interface BusMessage {
  /** The stream's sequence number of the message (Kafka: the offset). */
  readonly seq: number;
  readonly subject: string;
  readonly data: Uint8Array;
  /** When the stream stored it (ms since the epoch): the cluster's ingestion time. */
  readonly timeMs: number;
  /**
   * Messages of the reader's subject after this one, as the server counted them when it
   * sent this one (a reader's messages only): 0 means the reader had caught up then.
   */
  readonly pending?: number;
  header(name: string): string | undefined;
}

export interface PublishOptions {
  /** Deduplication id: the same id published again within the stream's window is stored once. */
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

/** What a stream keeps. Messages beyond a limit go (`discard = old`) or are refused (`new`). */
export interface StreamLimits {
  /** 0: no age limit. */
  readonly maxAgeMs: number;
  /** -1: no limit. */
  readonly maxBytes: number;
  readonly maxMsgs: number;
  /** How long a message id is remembered for deduplication. */
  readonly duplicateWindowMs: number;
  readonly discard: 'old' | 'new';
}

export const UNLIMITED: StreamLimits = Object.freeze({ maxAgeMs: 0, maxBytes: -1, maxMsgs: -1, duplicateWindowMs: 120_000, discard: 'new' });

/** The settings of a stream a process checks (and creates it with, when it may). */
export interface StreamSpec {
  readonly name: string;
  /** Subjects are `<subject>.<...>` (the stream holds `<subject>.>`). */
  readonly subject: string;
  readonly replicas: number;
  readonly limits: StreamLimits;
  /**
   * The configuration key behind each setting this process asks for: only those are
   * checked against an existing stream, and a mismatch names the key.
   */
  readonly keys: Readonly<Partial<Record<'name' | 'subject' | 'replicas' | keyof StreamLimits, string>>>;
}

export interface StreamState {
  /** This process's clock just before it asked (what was stored after, was stored after this, less clock skew). */
  readonly askedAtMs: number;
  /** The first sequence still stored (last + 1 when empty). */
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** When the last message was stored (ms since the epoch; 0 when none). */
  readonly lastTs: number;
  readonly messages: number;
  readonly bytes: number;
  /** The stream's limits (-1: none), for how soon to trim it. */
  readonly maxMsgs: number;
  readonly maxBytes: number;
}

export interface BusReader {
  stop(): Promise<void>;
}

export interface Bus {
  /**
   * Checks the stream against `spec` (its subjects, and the settings `spec.keys` names);
   * creates it when missing if `create`, else throws `StreamMissing` (retry later: another
   * tier creates it). A mismatch throws LF_CLUSTER_MISMATCH naming the key.
   */
  ensureStream(spec: StreamSpec, create: boolean): Promise<void>;
  streamState(stream: string): Promise<StreamState>;
  /** Resolves with the stored message's sequence once the stream acknowledged it. */
  publish(subject: string, data: Uint8Array, options: PublishOptions): Promise<number>;
  lastOnSubject(stream: string, subject: string): Promise<BusMessage | undefined>;
  /** The first message on `subject` (wildcards allowed) at or after `fromSeq`. */
  nextOnSubject(stream: string, subject: string, fromSeq: number): Promise<BusMessage | undefined>;
  /** Delivers the subject's messages from `fromSeq` on, in order, without gaps, across failures. */
  read(stream: string, subject: string, fromSeq: number, onMessage: (m: BusMessage) => void): BusReader;
  /** The subjects matching `filter` that hold messages, with how many each. */
  subjects(stream: string, filter: string): Promise<Map<string, number>>;
  /**
   * The subject's messages from `fromSeq` through `toSeq` that are still stored, in order
   * (a takeover's replay); resolves once the last of them was delivered.
   */
  readRange(stream: string, subject: string, fromSeq: number, toSeq: number, onMessage: (m: BusMessage) => void): Promise<void>;
  /** Removes the subject's messages below `belowSeq` (what every reader has done with). */
  purge(stream: string, subject: string, belowSeq: number): Promise<number>;
  leases(bucket: string, ttlMs: number, replicas: number, ttlKey: string): Promise<Leases>;
  records(bucket: string, replicas: number): Promise<Records>;
  /** The largest message the server takes (its max_payload), headers included. */
  readonly maxPayload: number;
  close(): Promise<void>;
}

/** The stream does not exist (yet): the tier that creates it has not started. */
export class StreamMissing extends LogflowError {
  constructor(message: string) {
    super('LF_STREAM_MISSING', message);
  }
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
  /** Key -> value of the live keys matching `filter`. */
  entries(filter: string): Promise<Map<string, string>>;
}

/** A revision-checked value (Kafka: a compacted topic; here a KV bucket without expiry). */
export interface Versioned {
  readonly value: Uint8Array;
  readonly revision: number;
}

/** Keys whose every write names the revision it replaces: a write from a stale owner fails. */
export interface Records {
  get(key: string): Promise<Versioned | undefined>;
  /** The revision, or undefined if the key exists already. */
  create(key: string, value: Uint8Array): Promise<number | undefined>;
  /** The new revision, or undefined if the key is no longer at `revision`. */
  update(key: string, value: Uint8Array, revision: number): Promise<number | undefined>;
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
