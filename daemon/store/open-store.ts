import type { JobTiming } from '../job/url-window-config.js';
import type { DatabaseSetting } from './database-config.js';
import type { ResultsQueries } from './results-queries.js';
import { SqliteQueries } from './sqlite-queries.js';
import { PostgresQueries } from './postgres/postgres-queries.js';

/** The HTTP side's queries on the job's results: PostgreSQL when `database` is a postgres:// URL, else the SQLite file. */
export function openQueries(setting: DatabaseSetting, job: JobTiming): ResultsQueries {
  if (setting.postgres) return new PostgresQueries(setting.postgres, job);
  return new SqliteQueries(setting.database, job.batchIntervalMs, job.instance);
}
