import type Database from 'better-sqlite3';
import { VisitorUnion } from '../counts/visitor-union.js';

/**
 * `visitors_union(visitors)`: the SQL aggregate that rolls a key's visitor sketches up a
 * level (minutes to an hour...), as `SUM` rolls its lines up beside it. SQLite cannot merge
 * sketches; this runs `VisitorUnion` (null if any row's visitors are null) per group.
 */
export const VISITORS_UNION = 'visitors_union';

/** Declares the aggregate on a connection that rolls up (before its statements are prepared). */
export function registerVisitorsUnion(db: Database.Database): void {
  db.aggregate<VisitorUnion>(VISITORS_UNION, {
    start: () => new VisitorUnion(),
    step: (union, bytes) => {
      union.add(bytes as unknown as Buffer | null);
      return union;
    },
    result: (union) => union.bytes(),
    deterministic: true,
  });
}
