/**
 * One error handler (STYLE: Fastify/Hono): typed errors -> `{ error: { code, message } }` with the
 * status from @coffer/protocol ERROR_STATUS; Fastify's own errors mapped to API codes; failures of
 * the database or the storage mapped to their outage codes (outage-errors.ts); anything else
 * logged (without request data) and answered with a generic 500.
 */
import { ERROR_STATUS } from '@coffer/protocol';
import type { FastifyError, FastifyInstance } from 'fastify';
import { asOutageError, causeLabel, retryAfterFor } from './outage-errors.ts';

export function errorBody(code: string, message: string, extra: Record<string, unknown> = {}) {
  return { error: { code, message, ...extra } };
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((thrown: FastifyError & { details?: Record<string, unknown> }, req, reply) => {
    // PostgreSQL or SQLite unreachable, a full disk, an unwrapped S3 failure: a documented code.
    const err = (asOutageError(thrown) ?? thrown) as FastifyError & { details?: Record<string, unknown> };
    const code = typeof err.code === 'string' ? err.code : '';
    if (code.startsWith('COFFER_ERR_')) {
      const status = ERROR_STATUS[code] ?? 400;
      const extra: Record<string, unknown> = {};
      const d = err.details ?? {};
      if (typeof d.attemptsRemaining === 'number') extra.attemptsRemaining = d.attemptsRemaining;
      const retryAfter = typeof d.retryAfterSeconds === 'number' ? d.retryAfterSeconds : retryAfterFor(code);
      if (retryAfter !== undefined) {
        extra.retryAfterSeconds = retryAfter;
        reply.header('retry-after', String(retryAfter));
      }
      // The cause (errno, SQLSTATE or S3 error name) tells the operator which service failed.
      if (status >= 500) req.log.error({ code, cause: causeLabel(err.cause ?? err) }, 'request failed');
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
