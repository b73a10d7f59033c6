import type { JobResults } from './job-results.js';
import type { ResultsQueries } from './results-queries.js';
import type { HistoryQueries } from './history-queries.js';
import { SqliteQueries } from './sqlite-queries.js';
import { PostgresQueries } from './postgres/postgres-queries.js';

/**
 * The HTTP side's queries on the job's results: PostgreSQL when `database` is a postgres://
 * URL, else the SQLite file, whose range queries run on `pool` (the query threads).
 */
export function openQueries(results: JobResults, pool?: HistoryQueries): ResultsQueries {
  if (results.postgres) return new PostgresQueries(results.postgres, results.timing);
  return new SqliteQueries(results.database, results.timing.batchIntervalMs, results.timing.instance, pool);
}
