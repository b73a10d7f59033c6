import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Leases } from '../bus.js';

/**
 * Leases as keys of a JetStream KV bucket whose entries expire after `ttlMs` (the bucket's
 * max age): `create` takes a free key, `update` at the last revision renews it and fails
 * once someone else holds it.
 */
export class JetStreamLeases implements Leases {
  readonly #kv: KV;

  private constructor(kv: KV) {
    this.#kv = kv;
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
    return new JetStreamLeases(kv);
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

  async keys(filter: string): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.#kv.keys(filter)) out.push(k);
    return out;
  }
}

function isConflict(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (e instanceof JetStreamApiError && (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)) return true;
    if (/wrong last sequence|key exists/i.test(e.message)) return true;
  }
  return false;
}
