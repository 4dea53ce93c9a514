/**
 * One error handler (STYLE: Fastify/Hono): typed errors -> `{ error: { code, message } }` with the
 * status from @coffer/protocol ERROR_STATUS; Fastify's own errors mapped to API codes; anything else
 * logged (without request data) and answered with a generic 500.
 */
import { ERROR_STATUS } from '@coffer/protocol';
import type { FastifyError, FastifyInstance } from 'fastify';

export function errorBody(code: string, message: string, extra: Record<string, unknown> = {}) {
  return { error: { code, message, ...extra } };
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError & { details?: Record<string, unknown> }, req, reply) => {
    const code = typeof err.code === 'string' ? err.code : '';
    if (code.startsWith('COFFER_ERR_')) {
      const status = ERROR_STATUS[code] ?? 400;
      const extra: Record<string, unknown> = {};
      const d = err.details ?? {};
      if (typeof d.attemptsRemaining === 'number') extra.attemptsRemaining = d.attemptsRemaining;
      if (typeof d.retryAfterSeconds === 'number') {
        extra.retryAfterSeconds = d.retryAfterSeconds;
        reply.header('retry-after', String(d.retryAfterSeconds));
      }
      if (status >= 500) req.log.error({ code }, 'request failed');
      return reply.status(status).send(errorBody(code, err.message, extra));
    }
    if (err.validation) {
      return reply
        .status(400)
        .send(errorBody('COFFER_ERR_BAD_REQUEST', `invalid request: ${err.message}`.slice(0, 300)));
    }
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.status(413).send(errorBody('COFFER_ERR_BODY_TOO_LARGE', 'the request body is too large'));
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.status(400).send(errorBody('COFFER_ERR_BAD_REQUEST', 'the request is malformed'));
    }
    req.log.error({ errName: err.name, errCode: code, stack: err.stack }, 'unexpected error');
    return reply.status(500).send(errorBody('COFFER_ERR_INTERNAL', 'unexpected server error; retry later'));
  });
  app.setNotFoundHandler((_req, reply) => {
    reply.status(404).send(errorBody('COFFER_ERR_NOT_FOUND', 'no such endpoint'));
  });
}
