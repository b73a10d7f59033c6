import type { JobResults } from '../job/url-window-config.js';
import type { ResultsQueries } from './results-queries.js';
import { SqliteQueries } from './sqlite-queries.js';
import { PostgresQueries } from './postgres/postgres-queries.js';

/** The HTTP side's queries on the job's results: PostgreSQL when `database` is a postgres:// URL, else the SQLite file. */
export function openQueries(results: JobResults): ResultsQueries {
  if (results.postgres) return new PostgresQueries(results.postgres, results.timing);
  return new SqliteQueries(results.database, results.timing.batchIntervalMs, results.timing.instance);
}
