import { timingSafeEqual } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { HttpConfig } from './http-config.js';
import type { Logger } from '../log.js';
import type { ResultsReader } from '../store/index.js';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { replyWithError } from './errors.js';
import { renderMetrics, type MetricsInput } from './metrics.js';
import { registerDashboard } from './dashboard.js';
import { registerSeries } from './series.js';
import { registerStream } from './stream.js';

/** Live figures the pipeline owns (files, counters); the HTTP layer only reads them. */
export interface PipelineStats {
  readonly eventsIn: number;
  readonly eventsCounted: number;
  readonly parseErrors: number;
  readonly duplicates: number;
  readonly lateEvents: number;
  readonly files: { pending: number; inProgress: number; completed: number; failed: number };
  readonly channel?: { size: number; capacity: number };
  readonly checkpoint?: { seq: number; ageMs: number | null; lastWriteMs: number };
  readonly window?: { distinctUrls: number; lastSlideMs: number; maxSlideMs: number };
  /** Connections the job's Avro receiver closed at once: not allowed by ipFilterRules, or past maxConnections. */
  readonly receiver?: { refusedConnections: { ipFilter: number; maxConnections: number } };
  /** Slides whose results wait for the database (locked, disk full); 0 when it keeps up. */
  readonly resultsWaiting?: number;
  readonly memory?: { rssMb: number; mainHeapMb: number; buffersMb: number; jobHeapMb: number; jobBuffersMb: number };
}

/** A file as /api/files shows it. */
export interface FileView {
  readonly name: string;
  readonly path: string;
  readonly state: string;
  readonly size: number;
  readonly bytesRead: number;
  readonly lines: number;
  readonly truncatedLines: number;
  readonly parseErrors: number | undefined;
  readonly startedAt: number | undefined;
  readonly finishedAt: number | undefined;
  readonly reason: string | undefined;
}

export interface HttpDeps {
  /** When set, `/api/*` and `/metrics` want `Authorization: Bearer <token>`. */
  readonly authToken?: string | undefined;
  readonly results: ResultsReader | undefined;
  /** The job's batch interval and window, for range queries and their defaults. */
  readonly job: { readonly batchIntervalMs: number; readonly windowDurationMs: number } | undefined;
  /** Figures the pipeline owns; asked of the main thread when the server runs in its own. */
  readonly stats: () => PipelineStats | Promise<PipelineStats>;
  readonly files: () => FileView[] | Promise<FileView[]>;
  readonly metrics: () => MetricsInput | Promise<MetricsInput>;
  readonly logger: Logger;
}

const filesQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { state: { type: 'string', enum: ['pending', 'reading', 'completed', 'failed'] } },
} as const;

const topQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    n: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
    from: { type: 'string', maxLength: 40, description: 'ISO 8601 time or epoch seconds; with `to`, a range of the history' },
    to: { type: 'string', maxLength: 40, description: 'ISO 8601 time or epoch seconds (default: now)' },
  },
} as const;

const MAX_RANGE_MS = 366 * 24 * 3600 * 1000;

/** Routes without parameters still refuse unknown ones (a typo should not pass silently). */
const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;

/** ISO 8601 or epoch seconds; NaN when it is neither. */
export function parseTime(value: string): number {
  if (/^\d{1,12}(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value)) return NaN;
  return Date.parse(value);
}

const rangeProps = {
  from: { type: 'string', maxLength: 40, description: 'ISO 8601 time or epoch seconds' },
  to: { type: 'string', maxLength: 40, description: 'ISO 8601 time or epoch seconds (default: now)' },
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

const seriesQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { ...rangeProps, step: { type: 'number', exclusiveMinimum: 0, maximum: 31_622_400, default: 60, description: 'seconds per point' } },
} as const;

const MAX_SERIES_POINTS = 10_000;

/** `from`/`to` with their defaults (`to` now, `from` `defaultSpanMs` before), or a 400 sent. */
export function parseRange(reply: FastifyReply, q: { from?: string; to?: string }, defaultSpanMs: number): { fromMs: number; toMs: number } | undefined {
  const toMs = q.to === undefined ? Date.now() : parseTime(q.to);
  if (Number.isNaN(toMs)) {
    badParameter(reply, 'to', 'must be an ISO 8601 time or epoch seconds');
    return undefined;
  }
  const fromMs = q.from === undefined ? toMs - defaultSpanMs : parseTime(q.from);
  if (Number.isNaN(fromMs)) {
    badParameter(reply, 'from', 'must be an ISO 8601 time or epoch seconds');
    return undefined;
  }
  if (fromMs >= toMs) {
    badParameter(reply, 'from', 'must be before to');
    return undefined;
  }
  if (toMs - fromMs > MAX_RANGE_MS) {
    badParameter(reply, 'from', 'is more than 366 days before to');
    return undefined;
  }
  return { fromMs, toMs };
}

/** The results routes of an agent without a job (an edge agent with HTTP). */
export function noJob(reply: FastifyReply) {
  return reply.code(404).send({ error: 'Not Found', code: 'LF_HTTP_NO_JOB', message: 'this agent runs no job' });
}

export function badParameter(reply: FastifyReply, parameter: string, message: string) {
  return reply.code(400).send({ error: 'Bad Request', code: 'LF_HTTP_BAD_PARAMETER', parameter, message: `querystring parameter ${JSON.stringify(parameter)} ${message}` });
}

export async function buildHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    // URLs as path parameters (/api/urls/:url/series) may be long.
    routerOptions: { maxParamLength: 8192 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
  });
  app.setErrorHandler(replyWithError);
  // Ajv's type coercion turns "1e309" into Infinity and lets it past integer, minimum and
  // maximum (found by the route fuzzer: SQLite then refused it, a 500). No route wants
  // a non-finite number.
  app.addHook('preHandler', async (req, reply) => {
    for (const [name, value] of Object.entries((req.query ?? {}) as Record<string, unknown>)) {
      if (typeof value === 'number' && !Number.isFinite(value)) return badParameter(reply, name, 'must be a finite number');
    }
  });
  if (deps.authToken) {
    const expected = Buffer.from(`Bearer ${deps.authToken}`);
    app.addHook('onRequest', async (req, reply) => {
      if (!req.url.startsWith('/api/') && !req.url.startsWith('/metrics')) return;
      const given = Buffer.from(req.headers.authorization ?? '');
      // Constant-time compare, so the token cannot be guessed byte by byte from timings.
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'Unauthorized', code: 'LF_HTTP_UNAUTHORIZED', message: 'a bearer token is required' });
      }
    });
  }
  // The OpenAPI document is built from the routes' schemas; the UI's assets come from npm.
  await app.register(swagger, {
    openapi: {
      info: { title: 'logflow', description: 'Sliding-window URL counts of web-server access logs', version: '0.1.0' },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/health', { schema: { summary: 'Liveness: 200 once the pipeline runs', querystring: noQuery } }, async () => ({ status: 'ok' }));

  app.get('/api/stats', { schema: { summary: 'Counters of the pipeline: events, parse errors, files, channel, window, checkpoint', querystring: noQuery } }, async () => deps.stats());

  app.get<{ Querystring: { state?: string } }>('/api/files', { schema: { summary: 'Every file the source has seen', querystring: filesQuery } }, async (req) => {
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
    const files = (await deps.files()).filter((f) => !req.query.state || f.state === req.query.state);
    return {
      files: files.map((f) => ({
        name: f.name,
        path: f.path,
        state: f.state,
        size: f.size,
        bytesRead: f.bytesRead,
        lines: f.lines,
        truncatedLines: f.truncatedLines,
        parseErrors: f.parseErrors ?? null,
        startedAt: iso(f.startedAt),
        finishedAt: iso(f.finishedAt),
        reason: f.reason ?? null,
      })),
    };
  });

  app.get<{ Querystring: { from?: string; to?: string; n: number; limit: number } }>(
    '/api/windows',
    { schema: { summary: 'The windows whose end is in (from, to], oldest first, each with its top URLs rebuilt from the history', querystring: windowsQuery } },
    async (req, reply) => {
      if (!deps.results || !deps.job) return noJob(reply);
      const range = parseRange(reply, req.query, 3_600_000);
      if (!range) return reply;
      const rows = deps.results.windows(range.fromMs, range.toMs, req.query.limit);
      const history = deps.results.history(deps.job.batchIntervalMs);
      const iso = (ms: number) => new Date(ms).toISOString();
      return {
        windows: rows.map((w) => ({
          start: iso(w.startMs),
          end: iso(w.endMs),
          total: w.total,
          urls: req.query.n > 0 ? history.top(w.startMs, w.endMs, req.query.n).urls : [],
        })),
        // The next page: the same query with from = next.
        next: rows.length === req.query.limit ? iso(rows.at(-1)!.endMs) : null,
      };
    },
  );

  app.get<{ Params: { url: string }; Querystring: { from?: string; to?: string; step: number } }>(
    '/api/urls/:url/series',
    { schema: { summary: 'One URL\'s counts over time (the URL percent-encoded in the path)', querystring: seriesQuery } },
    async (req, reply) => {
      if (!deps.results || !deps.job) return noJob(reply);
      const range = parseRange(reply, req.query, 3_600_000);
      if (!range) return reply;
      const stepMs = Math.round(req.query.step * 1000);
      if (stepMs % deps.job.batchIntervalMs !== 0) {
        return badParameter(reply, 'step', `must be a multiple of the batch interval (${deps.job.batchIntervalMs / 1000} s)`);
      }
      if ((range.toMs - range.fromMs) / stepMs > MAX_SERIES_POINTS) {
        return badParameter(reply, 'step', `gives more than ${MAX_SERIES_POINTS} points for this range`);
      }
      const points = deps.results.history(deps.job.batchIntervalMs).series(req.params.url, range.fromMs, range.toMs, stepMs);
      return { url: req.params.url, step: stepMs / 1000, points: points.map((p) => ({ start: new Date(p.start).toISOString(), count: p.count })) };
    },
  );

  app.get('/metrics', { schema: { summary: 'Prometheus text format', querystring: noQuery } }, async (_req, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(renderMetrics(await deps.metrics())));

  app.get<{ Querystring: { n: number; from?: string; to?: string } }>('/api/top', { schema: { summary: 'The most requested URLs of the newest window, or of any range of the history', querystring: topQuery } }, async (req, reply) => {
    if (!deps.results || !deps.job) return noJob(reply);
    const { from, to } = req.query;
    if (from !== undefined || to !== undefined) {
      const range = parseRange(reply, req.query, deps.job.windowDurationMs);
      if (!range) return reply;
      const r = deps.results.history(deps.job.batchIntervalMs).top(range.fromMs, range.toMs, req.query.n);
      return { window: { start: new Date(r.fromMs).toISOString(), end: new Date(r.toMs).toISOString() }, total: r.total, urls: r.urls };
    }
    const json = deps.results.latestTopJson(req.query.n, ({ window, urls }) => ({
      window: window ? { start: new Date(window.startMs).toISOString(), end: new Date(window.endMs).toISOString() } : null,
      total: window?.total ?? 0,
      urls,
    }));
    return reply.type('application/json; charset=utf-8').send(json);
  });
  await registerSeries(app, deps);
  await registerStream(app, deps);
  await registerDashboard(app);
  return app;
}

export async function startHttpServer(config: HttpConfig, deps: HttpDeps): Promise<FastifyInstance> {
  const app = await buildHttpServer(deps);
  await app.listen({ host: config.bind, port: config.port });
  return app;
}
