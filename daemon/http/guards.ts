import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { sendError } from './errors.js';

/**
 * Checks that apply to every route, before any handler runs: the Host header (DNS
 * rebinding), then the bearer token. Installed on the root instance, not as an
 * encapsulated plugin, so that they cover the route groups registered after them.
 */

/** The name in a Host header, without its port, lower case: `[::1]:8080` -> `[::1]`. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

/**
 * A page on any web site can point its own name at 127.0.0.1 (DNS rebinding) and then read
 * whatever answers there: the browser sends that site's name as Host. Answering only to the
 * names the server is reached by shuts that door, token or not.
 */
export function checkHost(app: FastifyInstance, allowed: readonly string[]): void {
  if (allowed.includes('*')) return;
  const names = new Set(allowed.map(hostName));
  app.addHook('onRequest', async (req, reply) => {
    const host = req.headers.host;
    // HTTP/1.0 without a Host header: no browser sends that.
    if (host === undefined || names.has(hostName(host))) return;
    return sendError(reply, 'LF_HTTP_MISDIRECTED', `this server does not answer to the host ${JSON.stringify(hostName(host).slice(0, 100))}; add it to a1.http.allowedHosts`);
  });
}

/** `/api/*` and `/metrics` want `Authorization: Bearer <token>`; the page, /health and /docs stay open. */
export function requireToken(app: FastifyInstance, token: string): void {
  const expected = Buffer.from(`Bearer ${token}`);
  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/api/') && !req.url.startsWith('/metrics')) return;
    const given = Buffer.from(req.headers.authorization ?? '');
    // Constant-time compare, so the token cannot be guessed byte by byte from timings.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return sendError(reply.header('www-authenticate', 'Bearer'), 'LF_HTTP_UNAUTHORIZED', 'a bearer token is required');
    }
  });
}
