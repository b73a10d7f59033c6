import { createRequire } from 'node:module';
import type { TopItem } from '../counts/dimension-window.js';
import type { Breakdown, DayTotals } from './breakdown.js';

// ua-parser-js 1.x (MIT; 2.x is AGPL): a maintained parser, not rules of our own.
const UAParser = createRequire(import.meta.url)('ua-parser-js') as new (ua: string) => { getBrowser(): { name?: string }; getOS(): { name?: string } };

/** The dimensions the HTML report's panels need (those the format has are counted). */
export const PANEL_DIMENSIONS = ['url', 'status', 'client', 'referrer', 'agent'] as const;
/** Agents read by the parser, the most counted first; the rest are one row (`other agents`). */
const AGENTS_PARSED = 20_000;

/** What the HTML report draws besides the URLs: GoAccess's panels, from the whole input. */
export interface Panels {
  readonly bytes: number;
  readonly visitors: number | null;
  readonly visitorsExact: boolean;
  /** Lines by status class: 2xx, 3xx, ... */
  readonly statusClasses: { readonly status: string; readonly count: number }[];
  readonly statuses: TopItem[];
  /** The URLs answered 404, and how many distinct ones. */
  readonly notFound: TopItem[];
  readonly notFoundUrls: number;
  readonly clients: TopItem[];
  readonly referrers: TopItem[];
  /** Browsers and operating systems, from the agents (ua-parser-js). */
  readonly browsers: TopItem[];
  readonly systems: TopItem[];
  /** Distinct agents, and how many of them (the most counted) the browsers and systems are made of. */
  readonly agents: number;
  readonly agentsParsed: number;
  readonly days: DayTotals[];
  readonly hours: { readonly hour: number; readonly requests: number; readonly bytes: number }[];
}

export function panelsOf(b: Breakdown, n: number): Panels {
  const statuses = b.top('status', 1000);
  const classes = new Map<string, number>();
  for (const s of statuses) {
    const c = /^[1-9]\d\d$/.test(s.key) ? `${s.key[0]}xx` : s.key;
    classes.set(c, (classes.get(c) ?? 0) + s.count);
  }
  const notFound = { lo: 404, hi: 404 };
  const cache = new Map<string, { browser: string; os: string }>();
  const parse = (agent: string) => {
    let r = cache.get(agent);
    if (!r) {
      const p = new UAParser(agent === '-' ? '' : agent);
      r = { browser: p.getBrowser().name ?? 'Unknown', os: p.getOS().name ?? 'Unknown' };
      cache.set(agent, r);
    }
    return r;
  };
  const agents = b.keys('agent');
  const v = b.visitors();
  return {
    bytes: b.bytes,
    visitors: v.visitors,
    visitorsExact: v.visitorsExact,
    statusClasses: [...classes].map(([status, count]) => ({ status, count })).sort((a, b2) => (a.status < b2.status ? -1 : 1)),
    statuses: statuses.slice(0, n),
    notFound: b.top('url', n, notFound),
    notFoundUrls: b.keys('url', notFound),
    clients: b.top('client', n),
    referrers: b.top('referrer', n),
    browsers: b.grouped('agent', AGENTS_PARSED, (a) => parse(a).browser, n),
    systems: b.grouped('agent', AGENTS_PARSED, (a) => parse(a).os, n),
    agents,
    agentsParsed: Math.min(agents, AGENTS_PARSED),
    days: b.days(),
    hours: b.hours(),
  };
}
