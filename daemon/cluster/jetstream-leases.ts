import { JetStreamApiCodes, JetStreamApiError, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Leases } from './bus.js';

/**
 * Leases as keys of a JetStream KV bucket whose entries expire after `ttlMs` (the bucket's
 * max age): `create` takes a free key, `update` at the last revision renews it and fails
 * once someone else holds it.
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

  static async open(nc: NatsConnection, bucket: string, ttlMs: number, replicas: number): Promise<JetStreamLeases> {
    const kvm = new Kvm(nc);
    let kv: KV;
    try {
      kv = await kvm.open(bucket);
      await kv.status();
    } catch {
      kv = await kvm.create(bucket, { ttl: ttlMs, replicas, history: 1 });
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
    const prefix = `$KV.${this.#bucket}.`;
    const info = await this.#jsm.streams.info(`KV_${this.#bucket}`, { subjects_filter: prefix + filter });
    return Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length));
  }
}

function isConflict(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e instanceof JetStreamApiError && (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)) return true;
    if (/wrong last sequence|key exists/i.test(e.message)) return true;
  }
  return false;
}
