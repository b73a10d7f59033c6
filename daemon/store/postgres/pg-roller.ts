import pg from 'pg';
import type { Logger } from '../../log.js';
import type { PostgresConfig } from '../database-config.js';
import { rollupFailed } from '../../telemetry/index.js';
import { clientConfig } from './pg-connection.js';
import { rollUpGroup } from './pg-rollups.js';

/** The history's tables are analyzed at most this often (autovacuum does it too, later). */
const ANALYZE_EVERY_MS = 60_000;

/**
 * Rolls the history up in the background, on a connection of its own, until nothing is
 * left: the job's tick does not wait for it. (In the tick, as SQLite does it, a 24-hour
 * replay's 1,440 minutes held back the ticks that write the next results.) Each group is
 * a transaction that locks the marks it rolls up, so a write marking one of them again
 * waits for it (pg-rollups.ts). A failure is logged once until a roll-up works again; the
 * next `kick` (every tick whose results were written) tries again.
 */
export class PgRoller {
  readonly #config: PostgresConfig;
  readonly #instance: string;
  readonly #openMinute: () => number;
  readonly #log: Logger;
  #client: pg.Client | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #failed = false;
  #closed = false;
  /** When the history's tables were last analyzed by this roller (0: not yet). */
  #analyzedAt = 0;

  constructor(config: PostgresConfig, instance: string, openMinute: () => number, log: Logger) {
    this.#config = config;
    this.#instance = instance;
    this.#openMinute = openMinute;
    this.#log = log;
  }

  /** New batches were written: roll up what is due (again, once the running pass ends). */
  kick(): void {
    if (this.#closed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#run().finally(() => {
      this.#running = undefined;
      if (!this.#again) return;
      this.#again = false;
      this.kick();
    });
  }

  /** Rolls up what is due and waits until nothing is left (tests, the bench). */
  async drain(): Promise<void> {
    this.kick();
    while (this.#running) await this.#running;
  }

  /** Waits for the pass under way, then ends the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#running;
    await this.#client?.end().catch(() => undefined);
    this.#client = undefined;
  }

  async #run(): Promise<void> {
    try {
      const c = (this.#client ??= await this.#connect());
      let groups = 0;
      while (!this.#closed && Number.isFinite(this.#openMinute())) {
        await c.query('BEGIN');
        const more = await rollUpGroup(c, this.#instance, this.#openMinute());
        await c.query('COMMIT');
        groups++;
        if (!more) break;
      }
      if (groups > 0 && !this.#closed && performance.now() - this.#analyzedAt >= ANALYZE_EVERY_MS) await this.#analyze(c);
      this.#failed = false;
    } catch (err) {
      const c = this.#client;
      this.#client = undefined;
      await c?.end().catch(() => undefined);
      if (!this.#failed) rollupFailed.emit(this.#log, { err });
      this.#failed = true;
    }
  }

  /**
   * The planner's statistics of the history's tables, after rolling up: a range query probes
   * each of its pieces through the primary keys, and with none (tables a replay has just
   * filled, before autovacuum's first pass) the planner read every row of a level per probe
   * through another index (10 s against 0.8 s for the contract suite's ranges by dimension).
   * A table this user does not own is skipped with a warning.
   */
  async #analyze(c: pg.ClientBase): Promise<void> {
    this.#analyzedAt = performance.now();
    await c.query('ANALYZE logflow_batches, logflow_batch_keys, logflow_rollups, logflow_rollup_totals, logflow_dirty');
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client(clientConfig(this.#config, `logflow ${this.#instance} (rollups)`));
    client.on('error', () => {
      if (this.#client === client) this.#client = undefined;
    });
    await client.connect();
    return client;
  }
}
