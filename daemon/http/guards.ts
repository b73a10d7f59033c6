import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { sendError } from './errors.js';

/**
 * Checks that apply to every route, before any handler runs: the Host header (DNS
 * rebinding), then the bearer token. Installed on the root instance, not as an
 * encapsulated plugin, so that they cover the route groups registered after them.
 */

/** The name in a Host header, without its port, lower case: `[::1]:8080` -> `[::1]`. */
const BEARER = /^bearer +(\S+) *$/i;

export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

/**
 * HTTP/1.1 requires a Host header. Node refuses a request without one itself, with an empty
 * 400 of its own; the server turns that off (`requireHostHeader: false`) to answer here, in
 * the one error shape. HTTP/1.0 may leave it out.
 */
export function requireHost(app: FastifyInstance): void {
  app.addHook('onRequest', async (req, reply) => {
    if (req.headers.host === undefined && req.raw.httpVersion !== '1.0') {
      return sendError(reply.header('connection', 'close'), 'LF_HTTP_BAD_REQUEST', 'an HTTP/1.1 request needs a Host header');
    }
  });
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

/**
 * `/api/*` and `/metrics` want `Authorization: Bearer <token>`; the page, /health and /docs
 * stay open. The scheme is case-insensitive and may be followed by more than one space
 * (RFC 7235 `credentials = auth-scheme 1*SP token68`): `bearer` was refused.
 */
export function requireToken(app: FastifyInstance, token: string): void {
  const expected = Buffer.from(token);
  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/api/') && !req.url.startsWith('/metrics')) return;
    const credentials = BEARER.exec(req.headers.authorization ?? '');
    const given = Buffer.from(credentials?.[1] ?? '');
    // Constant-time compare, so the token cannot be guessed byte by byte from timings.
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return sendError(reply.header('www-authenticate', 'Bearer'), 'LF_HTTP_UNAUTHORIZED', 'a bearer token is required');
    }
  });
}
