import type { JobResults } from './job-results.js';
import type { ResultsQueries } from './results-queries.js';
import type { HistoryQueries } from './history-queries.js';
import { SqliteQueries } from './sqlite-queries.js';

/**
 * The HTTP side's queries on the job's results: PostgreSQL when `database` is a postgres://
 * URL, else the SQLite file, whose range queries run on `pool` (the query threads). The
 * PostgreSQL driver is loaded only then: the HTTP thread of an agent on SQLite starts
 * without it (50 ms of CPU).
 */
export async function openQueries(results: JobResults, pool?: HistoryQueries): Promise<ResultsQueries> {
  if (results.postgres) {
    const { PostgresQueries } = await import('./postgres/postgres-queries.js');
    return new PostgresQueries(results.postgres, results.timing);
  }
  return new SqliteQueries(results.database, results.timing.batchIntervalMs, results.timing.instance, pool);
}
