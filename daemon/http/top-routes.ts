import type { FastifyPluginAsync } from 'fastify';
import type { HttpDeps } from './deps.js';
import { noJob } from './errors.js';
import { historyQuery, instanceOf, instanceProp, parseRange, rangeProps } from './params.js';

const topQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    n: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
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

/** The top URLs: of the newest window or a range (`/api/top`), and window by window (`/api/windows`). */
export const topRoutes: FastifyPluginAsync<HttpDeps> = async (app, deps) => {
  app.get<{ Querystring: { n: number; from?: string; to?: string; instance?: string } }>('/api/top', { schema: { summary: 'The most requested URLs of the newest window, or of any range of the history', querystring: topQuery } }, async (req, reply) => {
    if (!deps.results || !deps.job) return noJob(reply);
    const { from, to } = req.query;
    if (from !== undefined || to !== undefined) {
      const range = parseRange(reply, req.query, deps.job.windowDurationMs);
      if (!range) return reply;
      const instance = await instanceOf(deps.results, deps.job, reply, req.query.instance);
      if (instance === undefined) return reply;
      const r = await deps.results.history({ kind: 'top', fromMs: range.fromMs, toMs: range.toMs, n: req.query.n }, instance);
      return { window: { start: iso(r.fromMs), end: iso(r.toMs) }, total: r.total, urls: r.urls };
    }
    const instance = await instanceOf(deps.results, deps.job, reply, req.query.instance);
    if (instance === undefined) return reply;
    const json = await deps.results.latestTopJson(req.query.n, instance, ({ window, urls }) => ({
      window: window ? { start: iso(window.startMs), end: iso(window.endMs) } : null,
      total: window?.total ?? 0,
      urls,
    }));
    return reply.type('application/json; charset=utf-8').send(json);
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
