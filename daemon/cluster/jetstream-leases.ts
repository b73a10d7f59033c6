import { JetStreamApiCodes, JetStreamApiError, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { ConfigError } from '../errors.js';
import type { Leases, Records, Versioned } from './bus.js';

/**
 * Leases as keys of a JetStream KV bucket whose entries expire after `ttlMs` (the bucket's
 * max age): `create` takes a free key, `update` at the last revision renews it and fails
 * once someone else holds it. The bucket's expiry is fixed when it is created: a process
 * configured with another fails at start, naming its key.
 */
export class JetStreamLeases implements Leases {
  readonly #kv: KV;
  readonly #jsm: JetStreamManager;
  readonly #bucket: string;

  private constructor(kv: KV, jsm: JetStreamManager, bucket: string) {
    this.#kv = kv;
    this.#jsm = jsm;
    this.#bucket = bucket;
  }

  static async open(nc: NatsConnection, bucket: string, ttlMs: number, replicas: number, ttlKey: string): Promise<JetStreamLeases> {
    const kv = await openBucket(nc, bucket, { ttl: ttlMs, replicas, history: 1 });
    const status = await kv.status();
    if (status.ttl !== ttlMs) {
      throw new ConfigError('LF_CLUSTER_MISMATCH', `${ttlKey} = ${ttlMs / 1000}, but the lease bucket ${bucket} expires leases after ${status.ttl / 1000} s (every process must use the same; to change it, stop them all and delete the bucket: nats kv del ${bucket})`, ttlKey);
    }
    return new JetStreamLeases(kv, await jetstreamManager(nc, { checkAPI: false }), bucket);
  }

  async acquire(key: string, owner: string): Promise<number | undefined> {
    try {
      return await this.#kv.create(key, owner);
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  async renew(key: string, owner: string, revision: number): Promise<number | undefined> {
    try {
      return await this.#kv.update(key, owner, revision);
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  async put(key: string, owner: string): Promise<void> {
    await this.#kv.put(key, owner);
  }

  async release(key: string): Promise<void> {
    await this.#kv.delete(key);
  }

  /**
   * From the stream's subjects, one request (`kv.keys()` creates a consumer per call, and
   * a counter asks every batch interval). A key deleted moments ago still shows until its
   * marker expires (one `ttlMs`): fair shares are a little low for that long.
   */
  async keys(filter: string): Promise<string[]> {
    return subjectKeys(this.#jsm, this.#bucket, filter);
  }

  async entries(filter: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const key of await this.keys(filter)) {
      const e = await this.#kv.get(key);
      if (e && e.operation === 'PUT') out.set(key, e.string());
    }
    return out;
  }
}

/** Records in a KV bucket that keeps one value per key, for ever (no expiry). */
export class JetStreamRecords implements Records {
  readonly #kv: KV;
  readonly #jsm: JetStreamManager;
  readonly #bucket: string;

  private constructor(kv: KV, jsm: JetStreamManager, bucket: string) {
    this.#kv = kv;
    this.#jsm = jsm;
    this.#bucket = bucket;
  }

  static async open(nc: NatsConnection, bucket: string, replicas: number): Promise<JetStreamRecords> {
    const kv = await openBucket(nc, bucket, { replicas, history: 1 });
    return new JetStreamRecords(kv, await jetstreamManager(nc, { checkAPI: false }), bucket);
  }

  async get(key: string): Promise<Versioned | undefined> {
    const e = await this.#kv.get(key);
    if (!e || e.operation !== 'PUT') return undefined;
    return { value: e.value, revision: e.revision };
  }

  async create(key: string, value: Uint8Array): Promise<number | undefined> {
    try {
      return await this.#kv.create(key, value);
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number | undefined> {
    try {
      return await this.#kv.update(key, value, revision);
    } catch (err) {
      if (isConflict(err)) return undefined;
      throw err;
    }
  }

  keys(filter: string): Promise<string[]> {
    return subjectKeys(this.#jsm, this.#bucket, filter);
  }
}

async function openBucket(nc: NatsConnection, bucket: string, opts: { ttl?: number; replicas: number; history: number }): Promise<KV> {
  const kvm = new Kvm(nc);
  try {
    const kv = await kvm.open(bucket);
    await kv.status();
    return kv;
  } catch {
    return kvm.create(bucket, opts);
  }
}

async function subjectKeys(jsm: JetStreamManager, bucket: string, filter: string): Promise<string[]> {
  const prefix = `$KV.${bucket}.`;
  const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: prefix + filter });
  return Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length));
}

function isConflict(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e instanceof JetStreamApiError && (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)) return true;
    if (/wrong last sequence|key exists/i.test(e.message)) return true;
  }
  return false;
}
