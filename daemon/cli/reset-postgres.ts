import pg from 'pg';
import { CliError } from '../errors.js';
import type { UrlWindowJobConfig } from '../job/url-window-config.js';
import { clientConfig } from '../store/postgres/pg-connection.js';

/**
 * The tables holding a writer's rows, each with an `instance` column. `logflow reset` deletes
 * this agent's rows from them and nothing else: the database is shared (other daemons,
 * Grafana's queries on the views), so its tables, views, migrations and the other instances'
 * rows stay, as a Spark job's reset clears its own output, not the warehouse.
 */
const INSTANCE_TABLES = [
  'logflow_batch_keys',
  'logflow_batches',
  'logflow_rollups',
  'logflow_rollup_totals',
  'logflow_dirty',
  'logflow_epochs',
  'logflow_progress',
  'logflow_windows',
  'logflow_latest_top',
  'logflow_latest_window',
  'logflow_instances',
];

/** One job's rows in a PostgreSQL results database: how many, and how to delete them. */
export interface PostgresRows {
  readonly what: string;
  readonly where: string;
  readonly rows: number;
  /** Deletes them in one transaction. */
  remove(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connects to the job's PostgreSQL database and takes its instance (the lock a running
 * writer holds: a daemon writing as this instance, on any host, is refused), then counts
 * the instance's rows. Refuses (nothing removed) when the server cannot be reached: the
 * checkpoint must not go while the rows it covers stay, or the recount would add them twice.
 */
export async function postgresRows(agent: string, job: UrlWindowJobConfig): Promise<PostgresRows> {
  const config = job.postgres!;
  const client = new pg.Client(clientConfig(config, 'logflow reset'));
  client.on('error', () => undefined);
  const close = () => client.end().catch(() => undefined);
  try {
    await client.connect();
    const locked = (await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock(hashtextextended('logflow.instance:' || $1, 0)) AS ok", [job.instance])).rows[0]!.ok;
    if (!locked) {
      const other = (await client.query<{ host: string; pid: number }>('SELECT host, pid FROM logflow_instances WHERE instance = $1', [job.instance])).rows[0];
      throw new CliError('LF_CLI_FAILED', `refused: a logflow daemon writes as instance ${job.instance} to ${job.database}${other ? ` (pid ${other.pid} on ${other.host})` : ''}. Stop it first, then reset.`);
    }
    const present = new Set((await client.query<{ t: string }>('SELECT table_name AS t FROM information_schema.tables WHERE table_schema = ANY(current_schemas(false)) AND table_name = ANY($1)', [INSTANCE_TABLES])).rows.map((r) => r.t));
    const tables = INSTANCE_TABLES.filter((t) => present.has(t));
    let rows = 0;
    for (const t of tables) rows += Number((await client.query<{ n: string }>(`SELECT COUNT(*) AS n FROM ${t} WHERE instance = $1`, [job.instance])).rows[0]!.n);
    return {
      what: `job ${job.name}'s results and history in PostgreSQL (instance ${job.instance}; its tables, views and other instances' rows are kept)`,
      where: job.database,
      rows,
      remove: async () => {
        await client.query('BEGIN');
        try {
          for (const t of tables) await client.query(`DELETE FROM ${t} WHERE instance = $1`, [job.instance]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
      },
      close,
    };
  } catch (err) {
    await close();
    if (err instanceof CliError) throw err;
    throw new CliError('LF_CLI_FAILED', `refused: cannot reach the results database ${job.database} (${agent}.jobs.${job.name}.database): ${(err as Error).message}. Nothing removed: its rows must go with the checkpoint.`);
  }
}
