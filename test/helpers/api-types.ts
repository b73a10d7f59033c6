/**
 * The daemon's answers as the tests read them. `/api/stats` is the daemon's own type (the
 * route, the dashboard and `logflow status` read the same), so a renamed or dropped figure
 * fails the build of the tests that read it instead of reading undefined.
 */
export type { ApiStats as Stats, FileCounts } from '../../daemon/telemetry/stats.js';
/** The `stats` server-sent event of `/api/stream`: `/api/stats` and a rate. */
export type { StreamStats } from '../../daemon/http/stream.js';

/** `/api/top` (the newest window, or `?from&to`); the route builds it inline (top-routes.ts). */
export interface Top {
  window: { start: string; end: string };
  total: number;
  urls: { url: string; count: number }[];
}

/** One key of `/api/top?by=` with its measures: lines, bytes, visitors (null when unknown) and whether they are exact. */
export interface TopItem {
  key: string;
  count: number;
  bytes: number;
  visitors: number | null;
  visitorsExact: boolean;
}

/** `/api/top?by=` (any dimension, a status filter): its items with their measures. */
export interface DimensionTop {
  window: { start: string; end: string } | null;
  by: string;
  status?: string;
  total: number;
  items: { key: string; count: number; bytes: number | null; visitors: number | null; visitorsExact: boolean }[];
  visitorsError?: number | null;
}
