import type { FastifyPluginAsync } from 'fastify';
import type { HttpDeps } from './deps.js';
import { renderMetrics } from '../telemetry/prometheus.js';
import { noQuery } from './params.js';

const filesQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { state: { type: 'string', enum: ['pending', 'reading', 'completed', 'failed', 'duplicate'] } },
} as const;

/** What the pipeline owns (its counters and files), and liveness: `/health`, `/api/stats`, `/api/files`, `/api/followed`, `/metrics`. */
export const pipelineRoutes: FastifyPluginAsync<HttpDeps> = async (app, deps) => {
  app.get('/health', { schema: { summary: 'Liveness: 200 once the pipeline runs', querystring: noQuery, security: [] } }, async () => ({ status: 'ok' }));

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
        mostlyUnparsed: f.warning !== undefined,
        warning: f.warning ?? null,
        duplicateOf: f.duplicateOf ?? null,
        writtenAfterFinish: f.writtenAfterFinish ?? null,
        note: f.note ?? null,
      })),
    };
  });

  app.get('/api/followed', { schema: { summary: 'The files TAILDIR sources follow: position, size and lag in bytes', querystring: noQuery } }, async () => {
    const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());
    const files = await deps.followed();
    return {
      files: files.map((f) => ({
        path: f.path,
        group: f.group,
        source: f.source,
        state: f.state,
        inode: f.inode,
        position: f.position,
        committed: f.committed ?? null,
        size: f.size,
        lagBytes: f.lagBytes,
        epoch: f.epoch,
        lines: f.lines,
        truncatedLines: f.truncatedLines,
        parseErrors: f.parseErrors ?? null,
        foundAt: iso(f.foundAt),
        lastReadAt: iso(f.lastReadAt),
        reason: f.reason ?? null,
      })),
    };
  });

  app.get('/metrics', { schema: { summary: 'Prometheus text format', querystring: noQuery } }, async (_req, reply) =>
    reply.type('text/plain; version=0.0.4; charset=utf-8').send(renderMetrics(await deps.metrics())));
};
