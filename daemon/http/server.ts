import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { HttpConfig } from './config.js';
import { ConnectionCap } from './connection-cap.js';
import { dashboardRoutes } from './dashboard.js';
import { fileCheckRoutes } from './file-check.js';
import type { HttpDeps } from './deps.js';
import { answerClientError, notFound, replyWithError } from './errors.js';
import { checkHost, requireHost, requireToken } from './guards.js';
import { registerOpenApi } from './openapi.js';
import { refuseNonFiniteNumbers } from './params.js';
import { pipelineRoutes } from './pipeline-routes.js';
import { seriesRoutes } from './series.js';
import { streamRoutes } from './stream.js';
import { topRoutes } from './top-routes.js';

/**
 * The HTTP server: checks that apply to every request (Host, token, numbers), then one
 * plugin per route group. Each group lives in its own file and reaches the daemon only
 * through HttpDeps.
 */
export async function buildHttpServer(deps: HttpDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 64 * 1024,
    // URLs as path parameters (/api/urls/:url/series) may be long.
    routerOptions: { maxParamLength: 8192 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, allErrors: false } },
    // Refusals before routing in the one error shape: a missing Host is checked by a hook.
    clientErrorHandler: answerClientError,
    http: { requireHostHeader: false },
  });
  app.setErrorHandler(replyWithError);
  app.setNotFoundHandler(notFound);
  requireHost(app);
  if (deps.allowedHosts) checkHost(app, deps.allowedHosts);
  if (deps.authToken) requireToken(app, deps.authToken);
  refuseNonFiniteNumbers(app);
  await registerOpenApi(app, deps.authToken !== undefined);
  await app.register(pipelineRoutes, deps);
  await app.register(topRoutes, deps);
  await app.register(seriesRoutes, deps);
  await app.register(streamRoutes, deps);
  await app.register(fileCheckRoutes, deps);
  await app.register(dashboardRoutes);
  return app;
}

export async function startHttpServer(config: HttpConfig, deps: HttpDeps): Promise<FastifyInstance> {
  const cap = new ConnectionCap(config.maxConnections, deps.logger.child({ component: 'http' }));
  const app = await buildHttpServer({
    ...deps,
    // The server's own figures join the pipeline's.
    stats: async () => ({ ...(await deps.stats()), http: cap.figures }),
    metrics: async () => ({ ...(await deps.metrics()), http: cap.figures }),
  });
  cap.install(app.server);
  await app.listen({ host: config.bind, port: config.port });
  return app;
}
