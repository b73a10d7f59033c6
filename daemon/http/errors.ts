import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { HTTP_ERRORS, type HttpErrorCode } from '../errors.js';
import { requestFailed } from '../telemetry/index.js';
import { QueriesBusy } from './query-pool.js';

/**
 * The one place that turns errors into HTTP answers, all of one shape:
 * `{"error": reason phrase, "code": LF_HTTP_*, "message", ...extra}`, with the status
 * declared beside the code in daemon/errors.ts. 400 names the parameter, 5xx hides internals.
 */
export function sendError(reply: FastifyReply, code: HttpErrorCode, message: string, extra: Record<string, unknown> = {}, status?: number): FastifyReply {
  const declared = HTTP_ERRORS[code];
  return reply.code(status ?? declared.status).send({ error: declared.error, code, ...extra, message });
}

export function badParameter(reply: FastifyReply, parameter: string, message: string): FastifyReply {
  return sendError(reply, 'LF_HTTP_BAD_PARAMETER', `querystring parameter ${JSON.stringify(parameter)} ${message}`, { parameter });
}

/** The results routes of an agent without a job (an edge agent with HTTP). */
export function noJob(reply: FastifyReply): FastifyReply {
  return sendError(reply, 'LF_HTTP_NO_JOB', 'this agent runs no job');
}

export function notFound(req: FastifyRequest, reply: FastifyReply): void {
  void sendError(reply, 'LF_HTTP_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 200)}`);
}

/**
 * Requests Node refuses before any route runs (a header block over its limit, a request
 * line it cannot parse, headers that came too late) are answered on the raw socket: in the
 * one shape too, then the connection is closed (as Node does).
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, message]: [HttpErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW' ? ['LF_HTTP_HEADERS_TOO_LARGE', 'the request\'s header block is over 16 KB']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? ['LF_HTTP_REQUEST_TIMEOUT', 'the request\'s headers did not come in time']
    : ['LF_HTTP_BAD_REQUEST', `not an HTTP request this server can parse (${err.code ?? 'error'})`];
  const { status, error } = HTTP_ERRORS[code];
  const body = JSON.stringify({ error, code, message });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${error}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

export function replyWithError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof QueriesBusy) {
    void sendError(reply.header('retry-after', '1'), 'LF_HTTP_BUSY', err.message);
    return;
  }
  if (err.validation) {
    const v = err.validation[0]! as ValidationIssue;
    const parameter = parameterOf(v);
    void sendError(reply, 'LF_HTTP_BAD_PARAMETER', `${err.validationContext ?? 'request'} parameter ${JSON.stringify(parameter)} ${messageOf(v)}`, { parameter });
    return;
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    // Fastify's own refusals (a body too large, a bad content type) keep their precise status.
    void sendError(reply, 'LF_HTTP_BAD_REQUEST', err.message, {}, err.statusCode);
    return;
  }
  if ((err as { code?: string }).code === 'LF_DATABASE_UNAVAILABLE') {
    void sendError(reply, 'LF_HTTP_STORE_UNAVAILABLE', 'the results database is not reachable now; retry later');
    return;
  }
  requestFailed.emit(req.log, { err });
  void sendError(reply, 'LF_HTTP_INTERNAL', 'internal error; see the daemon log');
}

interface ValidationIssue {
  keyword?: string;
  message?: string;
  instancePath?: string;
  params?: { additionalProperty?: string; missingProperty?: string; allowedValues?: unknown[] };
}

/** Ajv says "must be equal to one of the allowed values" without saying which: list them. */
function messageOf(v: ValidationIssue): string {
  if (v.keyword === 'enum' && v.params?.allowedValues) return `must be one of ${v.params.allowedValues.join(', ')}`;
  return v.message ?? 'is invalid';
}

function parameterOf(v: ValidationIssue): string {
  if (v.params?.additionalProperty) return v.params.additionalProperty;
  if (v.params?.missingProperty) return v.params.missingProperty;
  return (v.instancePath ?? '').replace(/^\//, '') || 'request';
}
