import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { HttpDeps } from './deps.js';
import { badParameter, noJob } from './errors.js';
import { dimensionOf, historyQuery, instanceOf, instanceProp, rangeProps, statusProp, statusRange } from './params.js';

const MAX_POINTS = 10_000;
/** Points aimed at when no step is given: enough for a chart, few enough to read fast. */
const DEFAULT_POINTS = 300;

const totalsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    from: { type: 'string', maxLength: 40, description: 'ISO 8601 time or epoch seconds (default: an hour before to)' },
    to: { type: 'string', maxLength: 40, description: 'ISO 8601 time or epoch seconds (default: now)' },
    step: { type: 'number', exclusiveMinimum: 0, maximum: 31_622_400, description: 'seconds per point (default: about 300 points)' },
    by: { type: 'string', maxLength: 64, description: "with `key`: the dimension the key is of (url by default; a1.jobs.<job>.dimensions)" },
    key: { type: 'string', maxLength: 8192, description: 'one key of `by` (a URL, a status code, a client...): its lines and bytes per step instead of all lines' },
    status: statusProp,
    ...instanceProp,
  },
} as const;

const urlQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { ...rangeProps, step: { type: 'number', exclusiveMinimum: 0, maximum: 31_622_400, default: 60, description: 'seconds per point' } },
} as const;

/**
 * The step for about DEFAULT_POINTS points: a whole number of batch intervals; whole
 * minutes, hours or days past one of them, so each point is read from those rollups (ten
 * years is 3,650 day rows, not 5 million minute rows).
 */
export function defaultStepMs(spanMs: number, batchMs: number): number {
  const raw = Math.max(batchMs, spanMs / DEFAULT_POINTS);
  const unit = [86_400_000, 3_600_000, 60_000].find((u) => raw >= u && u % batchMs === 0) ?? batchMs;
  return Math.ceil(raw / unit) * unit;
}

/** The step in ms, or a 400 sent: a whole number of batch intervals, and not too many points. */
function checkStep(reply: FastifyReply, stepMs: number, batchMs: number, range: { fromMs: number; toMs: number }): number | undefined {
  if (stepMs % batchMs !== 0) {
    badParameter(reply, 'step', `must be a multiple of the batch interval (${batchMs / 1000} s)`);
    return undefined;
  }
  if ((range.toMs - range.fromMs) / stepMs > MAX_POINTS) {
    badParameter(reply, 'step', `gives more than ${MAX_POINTS} points for this range`);
    return undefined;
  }
  return stepMs;
}

const points = (list: { start: number; count: number }[]) => list.map((p) => ({ start: new Date(p.start).toISOString(), count: p.count }));

/**
 * Counts over time: of all URLs (`/api/series`, the events/s chart) and of one
 * (`/api/urls/:url/series`); and the time the history spans (`/api/history`, the
 * dashboard's "all" range).
 */
export const seriesRoutes: FastifyPluginAsync<HttpDeps> = async (app, deps) => {
  app.get<{ Querystring: { instance?: string } }>(
    '/api/history',
    { schema: { summary: 'The time the history spans, by the lines\' own time: {from, to} (null when empty)', querystring: { type: 'object', additionalProperties: false, properties: { ...instanceProp } } } },
    async (req, reply) => {
      if (!deps.results || !deps.job) return noJob(reply);
      const instance = await instanceOf(deps.results, deps.job, reply, req.query.instance);
      if (instance === undefined) return reply;
      const extent = await deps.results.extent(instance);
      return { from: extent ? new Date(extent.fromMs).toISOString() : null, to: extent ? new Date(extent.toMs).toISOString() : null };
    },
  );

  app.get<{ Querystring: { from?: string; to?: string; step?: number; by?: string; key?: string; status?: string; instance?: string } }>(
    '/api/series',
    {
      schema: {
        summary: 'Counted events per `step` seconds over a range of the history: of all lines, or of one key of a dimension (`by`, `key`), of a status (`status`)',
        description:
          'Without `key`: `{ step, batchInterval, points: [{ start, count }] }`, every counted line. With `key` (and `by`, url by default; `status` an exact code or a class): ' +
          '`{ by, key, status, step, batchInterval, total, bytes, points: [{ start, count, bytes, visitors, visitorsExact }] }`, that key\'s lines of that status per step, e.g. `by=status&key=500` per minute; ' +
          'a point\'s `visitors` are the distinct clients of its step (exact up to 512, then a HyperLogLog estimate: `visitorsExact: false`; null for lines counted without visits). ' +
          '`by` or `status` without `key` is a 400 naming `key`.',
        querystring: totalsQuery,
      },
    },
    async (req, reply) => {
      const q = await historyQuery(deps, reply, req.query);
      if (!q) return reply;
      const batchMs = q.job.batchIntervalMs;
      const asked = req.query.step === undefined ? defaultStepMs(q.toMs - q.fromMs, batchMs) : Math.round(req.query.step * 1000);
      const stepMs = checkStep(reply, asked, batchMs, q);
      if (stepMs === undefined) return reply;
      const { key, status } = req.query;
      // An unknown dimension is named first, with or without a key.
      const by = dimensionOf(reply, q.job, req.query.by);
      if (by === undefined) return reply;
      if (key === undefined && (req.query.by !== undefined || status !== undefined)) {
        return badParameter(reply, 'key', 'is needed with by or status: the key of the dimension whose lines to count (by=status&key=500)');
      }
      if (key !== undefined) {
        const list = await q.results.history({ kind: 'dimensionSeries', dimension: by, key, status: statusRange(status), fromMs: q.fromMs, toMs: q.toMs, stepMs }, q.instance);
        let total = 0;
        let bytes = 0;
        for (const p of list) {
          total += p.count;
          bytes += p.bytes;
        }
        return {
          by,
          key,
          status: status ?? null,
          step: stepMs / 1000,
          batchInterval: batchMs / 1000,
          total,
          bytes,
          points: list.map((p) => ({ start: new Date(p.start).toISOString(), count: p.count, bytes: p.bytes, visitors: p.visitors, visitorsExact: p.visitorsExact })),
        };
      }
      const list = await q.results.history({ kind: 'totalSeries', fromMs: q.fromMs, toMs: q.toMs, stepMs }, q.instance);
      return { step: stepMs / 1000, batchInterval: batchMs / 1000, points: points(list) };
    },
  );

  app.get<{ Params: { url: string }; Querystring: { from?: string; to?: string; step: number; instance?: string } }>(
    '/api/urls/:url/series',
    { schema: { summary: 'One URL\'s counts over time (the URL percent-encoded in the path)', querystring: urlQuery } },
    async (req, reply) => {
      const q = await historyQuery(deps, reply, req.query);
      if (!q) return reply;
      const stepMs = checkStep(reply, Math.round(req.query.step * 1000), q.job.batchIntervalMs, q);
      if (stepMs === undefined) return reply;
      const list = await q.results.history({ kind: 'urlSeries', url: req.params.url, fromMs: q.fromMs, toMs: q.toMs, stepMs }, q.instance);
      return { url: req.params.url, step: stepMs / 1000, points: points(list) };
    },
  );
};
