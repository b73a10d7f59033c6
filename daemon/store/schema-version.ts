import type Database from 'better-sqlite3';
import { LogflowError } from '../errors.js';

/**
 * The results database's schema version (`PRAGMA user_version`). 0: the first (no version
 * set; its history could miss minute and hour rollups after a restart). 1: the same
 * tables, rollups repaired at start. 2: the history by the lines' own time: batch rows that
 * add up, each tagged with the epoch (checkpoint) that wrote it, dirty marks, day rollups,
 * retention from when rows were counted. 3: the history's rollups by dimension and status
 * (`dim_counts`, `dim_keys`), rolled up again from the batch rows at the migration. 4: their
 * visitors (`dim_counts.visitors`: a sketch per key, status code and bucket), rolled up again
 * the same way. A later version adds its migration step here
 * (`migrate(from)` runs each step from `from` on) and its tables or columns beside them.
 */
export const SCHEMA_VERSION = 4;

/** What opening the database did to its schema, for the log. */
export interface SchemaMigration {
  readonly from: number;
  readonly to: number;
}

/**
 * Checks the version of an existing database, refusing one written by a newer logflow;
 * `create` (tables that do not exist yet), `migrate(from)` and `indexes` (on columns a
 * migration may have added) run inside the transaction that stamps the new version. Returns
 * the migration done, if any (none for a new, empty database).
 */
export function openSchema(
  db: Database.Database,
  file: string,
  steps: { create: () => void; migrate: (from: number) => void; indexes?: () => void },
): SchemaMigration | undefined {
  const { create, migrate, indexes } = steps;
  const found = db.pragma('user_version', { simple: true }) as number;
  if (found > SCHEMA_VERSION) {
    throw new LogflowError(
      'LF_CHECKPOINT_INCOMPATIBLE',
      `the results database ${file} has schema version ${found}, written by a newer logflow; this one reads versions 0 to ${SCHEMA_VERSION}. ` +
        'Run the logflow that wrote it, or point a1.jobs.<job>.database at a new file (the history starts empty).',
    );
  }
  const existed = (db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'").pluck().get() as number) > 0;
  db.transaction(() => {
    create();
    if (existed && found < SCHEMA_VERSION) migrate(found);
    indexes?.();
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
  return existed && found < SCHEMA_VERSION ? { from: found, to: SCHEMA_VERSION } : undefined;
}
