import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/**
 * The OpenAPI document (`/docs/json`), built from the routes' schemas, and its UI at `/docs`
 * (assets from npm, no CDN). It declares the bearer token, so that "Authorize" in the UI
 * sends it with "Try it out"; `/health` opts out.
 */
export async function registerOpenApi(app: FastifyInstance, tokenRequired: boolean): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: { title: 'logflow', description: 'Sliding-window URL counts of web-server access logs', version: '0.1.0' },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'a1.http.authToken, when it is set: /api/* and /metrics want it' },
        },
      },
      security: tokenRequired ? [{ bearerAuth: [] }] : [],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { persistAuthorization: false } });
}
