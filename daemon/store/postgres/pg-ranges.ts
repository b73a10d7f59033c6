import { floorTo, HOUR, MINUTE } from '../history.js';

export const DAY = 86_400_000;
/** The size of each level's buckets: 0 the batches, 1 minutes, 2 hours, 3 days (UTC). */
export const PG_LEVEL_MS = [0, MINUTE, HOUR, DAY] as const;
export const PG_TOP_LEVEL = 3;
const LEVEL_MS = PG_LEVEL_MS;
const TOP_LEVEL = PG_TOP_LEVEL;

/** A piece of a range read from one level: 0 the batches, 1-3 the minute, hour and day rollups. */
export interface RangePiece {
  readonly level: number;
  readonly from: number;
  readonly to: number;
}

/** Per level 1..TOP_LEVEL, the bucket starts whose rollup is not to be read (dirty, or holding a dirty finer bucket), sorted. */
export type Unusable = readonly (readonly number[])[];

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
 * Splits [from, to) into whole hours and minutes and batch intervals at the edges, up to
 * `topLevel`; a bucket whose rollup is unusable (dirty) is read from the level below it.
 */
export function decompose(from: number, to: number, batchMs: number, unusable: Unusable, topLevel = TOP_LEVEL): RangePiece[] {
  const pieces: RangePiece[] = [];
  const split = (lo: number, hi: number, level: number): void => {
    if (lo >= hi) return;
    if (level === 0) {
      pieces.push({ level: 0, from: lo, to: hi });
      return;
    }
    const size = LEVEL_MS[level]!;
    const first = Math.ceil(lo / size) * size;
    const last = floorTo(hi, size);
    if (first >= last || size <= batchMs) {
      split(lo, hi, level - 1);
      return;
    }
    split(lo, first, level - 1);
    let at = first;
    for (const bucket of unusable[level]!) {
      if (bucket < first || bucket >= last) continue;
      if (bucket > at) pieces.push({ level, from: at, to: bucket });
      split(bucket, bucket + size, level - 1);
      at = bucket + size;
    }
    if (at < last) pieces.push({ level, from: at, to: last });
    split(last, hi, level - 1);
  };
  split(from, to, Math.min(topLevel, TOP_LEVEL));
  return pieces;
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
