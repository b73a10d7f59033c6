import { floorTo } from './history-schema.js';

/** How the windows along the history are laid: their length, their slide, and the newest persisted window's end. */
export interface WindowLayout {
  readonly windowMs: number;
  readonly slideMs: number;
  readonly newestEndMs: number;
}

/**
 * Event time: the slide ends of the windows along the history in (afterMs, toMs], from the
 * first batch (`firstBatchMs`) up to the newest window persisted, at most `limit`; undefined
 * when there are none. The rows to read are those starting in [firstEnd - windowMs, lastEnd).
 */
export function windowEnds(firstBatchMs: number | null, afterMs: number, toMs: number, limit: number, opts: WindowLayout): { firstEnd: number; lastEnd: number } | undefined {
  if (firstBatchMs === null) return undefined;
  const { slideMs } = opts;
  const last = Math.min(toMs, opts.newestEndMs);
  const firstEnd = Math.max(floorTo(afterMs, slideMs), floorTo(firstBatchMs, slideMs)) + slideMs;
  const count = Math.max(0, Math.min(limit, Math.floor((last - firstEnd) / slideMs) + 1));
  return count === 0 ? undefined : { firstEnd, lastEnd: firstEnd + (count - 1) * slideMs };
}

/** A sliding sum over batch totals (in start order; a second's rows of several epochs are adjacent): each window the events counted in [end - windowMs, end). */
export function slidingTotals(rows: readonly { start: number; count: number }[], ends: { firstEnd: number; lastEnd: number }, opts: WindowLayout): { startMs: number; endMs: number; total: number }[] {
  const { windowMs, slideMs } = opts;
  const out: { startMs: number; endMs: number; total: number }[] = [];
  let total = 0;
  let entered = 0;
  let left = 0;
  for (let end = ends.firstEnd; end <= ends.lastEnd; end += slideMs) {
    for (; entered < rows.length && rows[entered]!.start < end; entered++) total += rows[entered]!.count;
    for (; left < entered && rows[left]!.start < end - windowMs; left++) total -= rows[left]!.count;
    out.push({ startMs: end - windowMs, endMs: end, total });
  }
  return out;
}
