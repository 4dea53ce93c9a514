/**
 * Per-address request limit (in memory, per process): a fixed one-minute window. Identity-sensitive
 * limits (code sending, credential issuance) are kept in the database instead (util/rate-limit.ts).
 */
import type { FastifyInstance } from 'fastify';
import { errorBody } from './errors.ts';

export function installRequestRateLimit(app: FastifyInstance, perMinute: number, now: () => number): void {
  const windows = new Map<string, { start: number; count: number }>();
  app.addHook('onRequest', async (req, reply) => {
    if (perMinute <= 0) return;
    const t = now();
    const w = windows.get(req.ip);
    if (!w || t - w.start >= 60_000) {
      if (windows.size > 100_000) windows.clear();
      windows.set(req.ip, { start: t, count: 1 });
      return;
    }
    if (++w.count > perMinute) {
      const retry = Math.max(1, Math.ceil((w.start + 60_000 - t) / 1000));
      reply.header('retry-after', String(retry));
      return reply.status(429).send(
        errorBody('COFFER_ERR_RATE_LIMITED', 'too many requests; retry later', {
          retryAfterSeconds: retry,
        }),
      );
    }
  });
}
