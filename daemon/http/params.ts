import type { FastifyInstance, FastifyReply } from 'fastify';
import type { HistoryQueries } from '../store/history-queries.js';
import type { ResultsReader } from '../store/index.js';
import type { HttpDeps, JobTiming } from './deps.js';
import { badParameter, noJob } from './errors.js';

/**
 * Query parameters several route groups share: times, ranges and their schemas. Each
 * function that can refuse a value sends the 400 itself and returns undefined.
 */

/** Routes without parameters still refuse unknown ones (a typo should not pass silently). */
export const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;

export const rangeProps = {
  from: { type: 'string', maxLength: 40, description: 'ISO 8601 time or epoch seconds' },
  to: { type: 'string', maxLength: 40, description: 'ISO 8601 time or epoch seconds (default: now)' },
} as const;

const ISO_PREFIX = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?/;

/**
 * ISO 8601 or epoch seconds; NaN when it is neither, or names a day or time that does not
 * exist: `Date.parse` reads 2026-02-30 as 2 March, which would answer for the wrong day.
 */
export function parseTime(value: string): number {
  if (/^\d{1,12}(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const m = ISO_PREFIX.exec(value);
  if (!m) return NaN;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return NaN;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6] ?? 0) > 59)) return NaN;
  return Date.parse(value);
}

/**
 * `from`/`to` with their defaults (`to` now, `from` `defaultSpanMs` before), or a 400 sent.
 * Any range may be asked, years of it: the history answers from its day rollups.
 */
export function parseRange(reply: FastifyReply, q: { from?: string; to?: string }, defaultSpanMs: number): { fromMs: number; toMs: number } | undefined {
  const toMs = q.to === undefined ? Date.now() : parseTime(q.to);
  if (Number.isNaN(toMs)) {
    badParameter(reply, 'to', 'must be an ISO 8601 time or epoch seconds (a date that exists)');
    return undefined;
  }
  const fromMs = q.from === undefined ? toMs - defaultSpanMs : parseTime(q.from);
  if (Number.isNaN(fromMs)) {
    badParameter(reply, 'from', 'must be an ISO 8601 time or epoch seconds (a date that exists)');
    return undefined;
  }
  if (fromMs >= toMs) {
    badParameter(reply, 'from', 'must be before to');
    return undefined;
  }
  return { fromMs, toMs };
}

/** What a history query reads: the results, the job's timing and the asked range. */
export interface HistoryRange {
  readonly results: ResultsReader;
  readonly queries: HistoryQueries;
  readonly job: JobTiming;
  readonly fromMs: number;
  readonly toMs: number;
}

/** The history query's parts (the range by default the last hour), or undefined with the 404 (no job) or 400 sent. */
export function historyQuery(deps: HttpDeps, reply: FastifyReply, q: { from?: string; to?: string }): HistoryRange | undefined {
  if (!deps.results || !deps.queries || !deps.job) {
    noJob(reply);
    return undefined;
  }
  const range = parseRange(reply, q, 3_600_000);
  return range && { results: deps.results, queries: deps.queries, job: deps.job, ...range };
}

/**
 * Ajv's type coercion turns "1e309" into Infinity and lets it past integer, minimum and
 * maximum (found by the route fuzzer: SQLite then refused it, a 500). No route wants a
 * non-finite number.
 */
export function refuseNonFiniteNumbers(app: FastifyInstance): void {
  app.addHook('preHandler', async (req, reply) => {
    for (const [name, value] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
      if (typeof value === 'number' && !Number.isFinite(value)) return badParameter(reply, name, 'must be a finite number');
    }
  });
}
