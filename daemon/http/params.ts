import type { FastifyInstance, FastifyReply } from 'fastify';
import { ALL_INSTANCES, type ResultsQueries } from '../store/results-queries.js';
import type { HttpDeps, JobTiming } from './deps.js';
import { badParameter, noJob } from './errors.js';
export { statusRange } from '../counts/status-range.js';

/**
 * Query parameters several route groups share: times, ranges and their schemas. Each
 * function that can refuse a value sends the 400 itself and returns undefined.
 */

/** Routes without parameters still refuse unknown ones (a typo should not pass silently). */
export const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;

/** `instance`: whose results to read, in a database several daemons write to. */
export const instanceProp = {
  instance: {
    type: 'string',
    maxLength: 63,
    description: "the writer whose results to read (its a1.jobs.<job>.instance; default: this daemon's own), or * for all writers of the database, summed",
  },
} as const;

export const rangeProps = {
  from: { type: 'string', maxLength: 40, description: 'ISO 8601 time or epoch seconds' },
  to: { type: 'string', maxLength: 40, description: 'ISO 8601 time or epoch seconds (default: now)' },
  ...instanceProp,
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

/** What a history query reads: the results, the job's timing, the instance and the asked range. */
export interface HistoryRange {
  readonly results: ResultsQueries;
  readonly job: JobTiming;
  readonly instance: string;
  readonly fromMs: number;
  readonly toMs: number;
}

/**
 * The instance asked for: this daemon's own by default, `*` for all, or another writer of
 * the database; undefined with the 400 sent for a name no writer has.
 */
export async function instanceOf(results: ResultsQueries, job: JobTiming, reply: FastifyReply, asked: string | undefined): Promise<string | undefined> {
  if (asked === undefined || asked === job.instance || asked === ALL_INSTANCES) return asked ?? job.instance;
  const known = await results.instances();
  if (known.includes(asked)) return asked;
  badParameter(reply, 'instance', `names no writer of this database (instances: ${[...known, ALL_INSTANCES].join(', ')})`);
  return undefined;
}

/** The history query's parts (the range by default the last hour), or undefined with the 404 (no job) or 400 sent. */
export async function historyQuery(deps: HttpDeps, reply: FastifyReply, q: { from?: string; to?: string; instance?: string }): Promise<HistoryRange | undefined> {
  if (!deps.results || !deps.job) {
    noJob(reply);
    return undefined;
  }
  const range = parseRange(reply, q, 3_600_000);
  if (!range) return undefined;
  const instance = await instanceOf(deps.results, deps.job, reply, q.instance);
  return instance === undefined ? undefined : { results: deps.results, job: deps.job, instance, ...range };
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

/** `status`: an exact code (`404`) or a class (`4xx`). */
export const statusProp = { type: 'string', pattern: '^[1-9][0-9][0-9]$|^[1-9][xX][xX]$', description: 'an exact status (404) or a class (4xx): only lines of that status count' } as const;

/** `by`: one of the job's dimensions (the URL by default), or a 400 sent that lists them. */
export function dimensionOf(reply: FastifyReply, job: JobTiming, by: string | undefined): string | undefined {
  const dims = job.dimensions ?? ['url'];
  const chosen = by ?? (dims.includes('url') ? 'url' : dims[0]!);
  if (!dims.includes(chosen)) {
    badParameter(reply, 'by', `must be one of this job's dimensions: ${dims.join(', ')} (a1.jobs.<job>.dimensions)`);
    return undefined;
  }
  return chosen;
}
