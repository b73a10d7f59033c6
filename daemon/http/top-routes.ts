import type { FastifyPluginAsync } from 'fastify';
import type { HttpDeps } from './deps.js';
import { noJob, sendError } from './errors.js';
import { dimensionOf, historyQuery, instanceOf, instanceProp, noQuery, parseRange, rangeProps, statusProp, statusRange } from './params.js';
import type { TopItem } from '../counts/dimension-window.js';
import type { LiveTop } from '../job/live-top.js';
import type { DimensionRangeTop } from '../store/history.js';
import { HLL_ERROR } from '../counts/hyperloglog.js';

const topQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    n: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
    by: { type: 'string', maxLength: 64, description: "the dimension to count by: one of the job's (url by default; a1.jobs.<job>.dimensions)" },
    status: statusProp,
    from: { type: 'string', maxLength: 40, description: 'ISO 8601 time or epoch seconds; with `to`, a range of the history' },
    to: { type: 'string', maxLength: 40, description: 'ISO 8601 time or epoch seconds (default: now)' },
    ...instanceProp,
  },
} as const;

const windowsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    ...rangeProps,
    n: { type: 'integer', minimum: 0, maximum: 1000, default: 10, description: 'URLs per window' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100, description: 'windows per page' },
  },
} as const;

const iso = (ms: number) => new Date(ms).toISOString();

/** The item shape every answer has: key, lines, bytes, visitors (and whether they are exact). */
const item = (i: TopItem) => ({ key: i.key, count: i.count, bytes: i.bytes, visitors: i.visitors, visitorsExact: i.visitorsExact });

/**
 * The top keys: of the newest window or a range (`/api/top`), and window by window
 * (`/api/windows`). `by` picks the dimension (the URL by default: its answer keeps the
 * `urls` field it always had), `status` the lines that count. The URL's unfiltered top of
 * the newest window (up to `topN` keys) is read from the database, where the job writes it
 * each slide; any other dimension, status or `n` is asked of the job's live window.
 */
export const topRoutes: FastifyPluginAsync<HttpDeps> = async (app, deps) => {
  app.get<{ Querystring: { n: number; by?: string; status?: string; from?: string; to?: string; instance?: string } }>(
    '/api/top',
    {
      schema: {
        summary: 'The top keys of a dimension (URLs by default) of the newest window, or of any range of the history, with their lines, bytes and visitors',
        description:
          'Answers `{ window, by, total, items: [{ key, count, bytes, visitors, visitorsExact }], approximate, errorBound }` (by=url also keeps `urls: [{ url, count }]`). ' +
          '`total` counts the lines of `status`. `visitors` are distinct client addresses: exact up to 512, then a HyperLogLog estimate (`visitorsExact: false`, relative standard error `visitorsError`); null when the log format has no client. ' +
          '`approximate: true` when a dimension capped by `maxKeys.DIM` dropped keys: each count may then be short by up to `errorBound`. An unknown `by` is a 400 that lists the job\'s dimensions. ' +
          'With `from`/`to`, a range of the history by the lines\' own time (from either results store): `count` and `bytes` exact for every dimension and status, `keys` the distinct keys of the range; ' +
          '`visitors` as live from either store (exact up to 512 over the whole range, then an estimate: `visitorsExact`; null for lines counted before logflow kept visitors: SQLite results schema 3, PostgreSQL schema 5 and older).',
        querystring: topQuery,
      },
    },
    async (req, reply) => {
      if (!deps.results || !deps.job) return noJob(reply);
      const { from, to, n, status } = req.query;
      const by = dimensionOf(reply, deps.job, req.query.by);
      if (by === undefined) return reply;
      const instance = await instanceOf(deps.results, deps.job, reply, req.query.instance);
      if (instance === undefined) return reply;
      if (from !== undefined || to !== undefined) {
        const range = parseRange(reply, req.query, deps.job.windowDurationMs);
        if (!range) return reply;
        const r = await deps.results.history({ kind: 'dimensionTop', dimension: by, status: statusRange(status), fromMs: range.fromMs, toMs: range.toMs, n }, instance);
        return rangeAnswer(r, by, status);
      }
      // By URL: the database holds each writer's top `topN`; past it, this daemon's own window answers.
      const own = instance === deps.job.instance;
      if (by === 'url' && status === undefined && (n <= (deps.job.topN ?? 100) || !own)) {
        const json = await deps.results.latestTopJson(n, instance, ({ window, items }) => ({
          window: window ? { start: iso(window.startMs), end: iso(window.endMs) } : null,
          by,
          total: window?.total ?? 0,
          urls: items.map((i) => ({ url: i.key, count: i.count })),
          items: items.map(item),
          approximate: false,
          errorBound: 0,
        }));
        return reply.type('application/json; charset=utf-8').send(json);
      }
      // Other dimensions, statuses and larger n come from this daemon's own job's window.
      if (!own) {
        return sendError(reply, 'LF_HTTP_BAD_PARAMETER', `by and status are answered from this daemon's own live window (instance ${deps.job.instance}) only`, { parameter: 'instance' });
      }
      if (!deps.liveTop) return sendError(reply, 'LF_HTTP_JOB_UNAVAILABLE', 'the live window is not reachable from this server');
      let live: LiveTop;
      try {
        live = await deps.liveTop({ by, status: statusRange(status), n });
      } catch (err) {
        return sendError(reply, 'LF_HTTP_JOB_UNAVAILABLE', `the job's live window did not answer: ${(err as Error).message}`);
      }
      return liveAnswer(live, status);
    },
  );

  app.get('/api/dimensions', { schema: { summary: "The job's dimensions (what /api/top?by= takes) and the default one", querystring: noQuery } }, async (req, reply) => {
    if (!deps.results || !deps.job) return noJob(reply);
    const dims = deps.job.dimensions ?? ['url'];
    return { dimensions: dims, default: dims.includes('url') ? 'url' : dims[0] };
  });

  app.get<{ Querystring: { from?: string; to?: string; n: number; limit: number; instance?: string } }>(
    '/api/windows',
    { schema: { summary: 'The windows whose end is in (from, to], oldest first, each with its top URLs rebuilt from the history', querystring: windowsQuery } },
    async (req, reply) => {
      const q = await historyQuery(deps, reply, req.query);
      if (!q) return reply;
      const job = q.job;
      const shape = { eventTime: job.time === 'event' && job.history !== false, windowMs: job.windowDurationMs, slideMs: job.slideDurationMs ?? job.batchIntervalMs };
      const rows = await q.results.history({ kind: 'windows', fromMs: q.fromMs, toMs: q.toMs, n: req.query.n, limit: req.query.limit, shape }, q.instance);
      return {
        windows: rows.map((w) => ({ start: iso(w.startMs), end: iso(w.endMs), total: w.total, urls: w.urls })),
        // The next page: the same query with from = next.
        next: rows.length === req.query.limit ? iso(rows.at(-1)!.endMs) : null,
      };
    },
  );
};

/**
 * A range of the history's answer as `/api/top` sends it: lines and bytes exact, per key and
 * status; visitors exact or estimated as the live window's (`visitorsExact`, `visitorsError`).
 */
function rangeAnswer(r: DimensionRangeTop, by: string, status: string | undefined) {
  return {
    window: { start: iso(r.fromMs), end: iso(r.toMs) },
    by,
    ...(status !== undefined && { status }),
    total: r.total,
    ...(by === 'url' && { urls: r.items.map((i) => ({ url: i.key, count: i.count })) }),
    items: r.items.map(item),
    keys: r.keys,
    approximate: false,
    errorBound: 0,
    visitorsError: r.items.some((i) => i.visitors !== null) ? HLL_ERROR : null,
  };
}

/** The live window's answer as `/api/top` sends it (`urls` too when by=url). */
function liveAnswer(live: LiveTop, status: string | undefined) {
  return {
    window: live.window ? { start: iso(live.window.startMs), end: iso(live.window.endMs) } : null,
    by: live.by,
    ...(status !== undefined && { status }),
    total: live.total,
    ...(live.by === 'url' && { urls: live.items.map((i) => ({ url: i.key, count: i.count })) }),
    items: live.items.map(item),
    keys: live.keys,
    approximate: live.approximate,
    errorBound: live.errorBound,
    visitorsError: live.visitorsError,
  };
}
