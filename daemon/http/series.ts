import type { FastifyInstance } from 'fastify';
import { badParameter, noJob, parseRange, type HttpDeps } from './server.js';

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
  },
} as const;

/** The step for about DEFAULT_POINTS points: a whole number of batch intervals, whole minutes past a minute. */
export function defaultStepMs(spanMs: number, batchMs: number): number {
  const raw = Math.max(batchMs, spanMs / DEFAULT_POINTS);
  const unit = raw >= 60_000 && 60_000 % batchMs === 0 ? 60_000 : batchMs;
  return Math.ceil(raw / unit) * unit;
}

/** `GET /api/series`: counted events (all URLs) per step, the events/s chart's data. */
export async function registerSeries(app: FastifyInstance, deps: HttpDeps): Promise<void> {
  app.get<{ Querystring: { from?: string; to?: string; step?: number } }>(
    '/api/series',
    { schema: { summary: 'Counted events of all URLs per `step` seconds over a range of the history', querystring: totalsQuery } },
    async (req, reply) => {
      if (!deps.results || !deps.job) return noJob(reply);
      const range = parseRange(reply, req.query, 3_600_000);
      if (!range) return reply;
      const batchMs = deps.job.batchIntervalMs;
      const stepMs = req.query.step === undefined ? defaultStepMs(range.toMs - range.fromMs, batchMs) : Math.round(req.query.step * 1000);
      if (stepMs % batchMs !== 0) return badParameter(reply, 'step', `must be a multiple of the batch interval (${batchMs / 1000} s)`);
      if ((range.toMs - range.fromMs) / stepMs > MAX_POINTS) return badParameter(reply, 'step', `gives more than ${MAX_POINTS} points for this range`);
      const points = deps.results.history(batchMs).totalSeries(range.fromMs, range.toMs, stepMs);
      return { step: stepMs / 1000, batchInterval: batchMs / 1000, points: points.map((p) => ({ start: new Date(p.start).toISOString(), count: p.count })) };
    },
  );
}
