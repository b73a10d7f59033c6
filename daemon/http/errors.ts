import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

/** The one place that turns errors into HTTP answers: 400 names the parameter, 5xx hides internals. */
export function replyWithError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  if (err.validation) {
    const v = err.validation[0]!;
    const parameter = parameterOf(v as ValidationIssue);
    void reply.code(400).send({
      error: 'Bad Request',
      code: 'LF_HTTP_BAD_PARAMETER',
      parameter,
      message: `${err.validationContext ?? 'request'} parameter ${JSON.stringify(parameter)} ${v.message ?? 'is invalid'}`,
    });
    return;
  }
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
  if (status === 500) req.log.error({ err }, 'request failed');
  void reply.code(status).send({
    error: status === 500 ? 'Internal Server Error' : err.name,
    code: err.code ?? 'LF_HTTP_ERROR',
    message: status === 500 ? 'internal error; see the daemon log' : err.message,
  });
}

interface ValidationIssue {
  instancePath?: string;
  params?: { additionalProperty?: string; missingProperty?: string };
}

function parameterOf(v: ValidationIssue): string {
  if (v.params?.additionalProperty) return v.params.additionalProperty;
  if (v.params?.missingProperty) return v.params.missingProperty;
  return (v.instancePath ?? '').replace(/^\//, '') || 'request';
}
