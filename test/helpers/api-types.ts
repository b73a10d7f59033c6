/** The parts of the daemon's answers that the event-time, upgrade and cluster tests read. */
export interface Stats {
  eventsIn: number;
  eventsCounted: number;
  parseErrors: number;
  historyOnlyEvents: number;
}

/** `/api/top` (the newest window, or `?from&to`). */
export interface Top {
  window: { start: string; end: string };
  total: number;
  urls: { url: string; count: number }[];
}
