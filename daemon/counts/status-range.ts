import type { StatusRange } from './dimension-window.js';

/** A status filter's codes: `404` is 404-404, `4xx` 400-499; none is 0-999 (lines without a status too). */
export function statusRange(status: string | undefined): StatusRange {
  if (status === undefined) return { lo: 0, hi: 999 };
  if (/^\d{3}$/.test(status)) return { lo: Number(status), hi: Number(status) };
  const first = Number(status[0]);
  return { lo: first * 100, hi: first * 100 + 99 };
}
