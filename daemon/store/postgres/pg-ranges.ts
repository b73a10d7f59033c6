import { decompose as decomposeLevels, floorTo, HOUR, MINUTE, type RangePiece, type Unusable } from '../history.js';

export const DAY = 86_400_000;
/** The size of each level's buckets: 0 the batches, 1 minutes, 2 hours, 3 days (UTC). */
export const PG_LEVEL_MS = [0, MINUTE, HOUR, DAY] as const;
export const PG_TOP_LEVEL = 3;
const LEVEL_MS = PG_LEVEL_MS;
const TOP_LEVEL = PG_TOP_LEVEL;

export type { RangePiece, Unusable };

/** Dirty marks (of any instance read) as the buckets of each level that are not to be read. */
export function unusableOf(marks: readonly { level: number; start: number }[]): Unusable {
  const out: number[][] = [[]];
  for (let level = 1; level <= TOP_LEVEL; level++) {
    const size = LEVEL_MS[level]!;
    out.push([...new Set(marks.filter((m) => m.level <= level).map((m) => floorTo(m.start, size)))].sort((a, b) => a - b));
  }
  return out;
}

/**
 * Splits [from, to) as SQLite's history does (whole days, hours and minutes, batch
 * intervals at the edges; a dirty bucket read from the level below), up to the day rollups
 * PostgreSQL keeps.
 */
export function decompose(from: number, to: number, batchMs: number, unusable: Unusable, topLevel = TOP_LEVEL): RangePiece[] {
  return decomposeLevels(from, to, batchMs, unusable, Math.min(topLevel, TOP_LEVEL));
}

/** The coarsest level whose buckets fit whole in a step of `stepMs` (points start at multiples of it). */
export function levelForStep(stepMs: number): number {
  for (let level = TOP_LEVEL; level > 0; level--) if (stepMs % LEVEL_MS[level]! === 0) return level;
  return 0;
}

/** The pieces as the column arrays a query joins against (`unnest($levels, $froms, $tos)`). */
export function pieceArrays(pieces: readonly RangePiece[]): [number[], number[], number[]] {
  return [pieces.map((p) => p.level), pieces.map((p) => p.from), pieces.map((p) => p.to)];
}
