import os from 'node:os';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { clusterSettingsMismatch, waitingForStream } from '../telemetry/index.js';
import type { Bus, Leases, Records, StreamSpec } from './bus.js';
import { StreamMissing } from './bus.js';
import { agreeOnSettings, type Setting } from './cluster-settings.js';
import { JetStreamBus } from './jetstream-bus.js';
import type { NatsConnectionConfig } from './jetstream-config.js';

/** What a counter's and a merge worker's configurations say of the cluster they join. */
export interface ClusterRoleConfig {
  /** The role's key prefix (`counter.jobs.j1`), named in errors and in the cluster's settings. */
  readonly prefix: string;
  readonly nats: NatsConnectionConfig;
  /** Made by the tier before (waited for); the output is created here if missing. */
  readonly input: StreamSpec;
  readonly output: StreamSpec;
  readonly replicas: number;
  readonly settingsBucket: string;
  readonly leaseBucket: string;
  readonly leaseTimeoutMs: number;
}

/** What a role works with once it has joined. */
export interface Joined {
  readonly bus: Bus;
  readonly settings: Records;
  readonly leases: Leases;
}

/**
 * A counter's or a merge worker's way into the cluster, tried once per tick until it is
 * in: connects (once: the connection then reconnects for ever), agrees on the cluster's
 * settings, takes the role's own steps (`more`), creates its output stream if missing,
 * checks its input stream and opens the leases. The input stream missing (its tier is not
 * up yet) is waited for, said every 20th try; a setting that differs from the cluster's is
 * the role's `problem`, said once, and it stops there. Anything else throws (the tick
 * loop says it and tries again).
 */
export class ClusterJoin {
  readonly #c: ClusterRoleConfig;
  readonly #clientName: string;
  readonly #log: Logger;
  #bus: JetStreamBus | undefined;
  #waits = 0;
  #problem: string | null = null;

  constructor(config: ClusterRoleConfig, clientName: string, log: Logger) {
    this.#c = config;
    this.#clientName = clientName;
    this.#log = log;
  }

  /** The connection once made, joined or not (the role closes it when it stops). */
  get bus(): Bus | undefined {
    return this.#bus;
  }

  /** Why the role does not work (a setting that differs from the cluster's), or null. */
  get problem(): string | null {
    return this.#problem;
  }

  /** One try; undefined until joined (see `problem`). */
  async join(settings: Readonly<Record<string, Setting>>, more: (bus: Bus, settings: Records) => Promise<void> = async () => {}): Promise<Joined | undefined> {
    const c = this.#c;
    try {
      const bus = (this.#bus ??= await JetStreamBus.connect(c.nats, this.#clientName, this.#log));
      const records = await bus.records(c.settingsBucket, c.replicas);
      await agreeOnSettings(records, settings, `${os.hostname()} ${c.prefix}`);
      await more(bus, records);
      await bus.ensureStream(c.output, true);
      await bus.ensureStream(c.input, false);
      return { bus, settings: records, leases: await bus.leases(c.leaseBucket, c.leaseTimeoutMs, c.replicas, `${c.prefix}.leaseTimeout`) };
    } catch (err) {
      if (err instanceof ConfigError) {
        this.#problem = err.message;
        clusterSettingsMismatch.emit(this.#log, { err: err.message, key: err.key });
        return undefined;
      }
      if (err instanceof StreamMissing) {
        if (this.#waits++ % 20 === 0) waitingForStream.emit(this.#log, { stream: c.input.name });
        return undefined;
      }
      throw err;
    }
  }
}
