// Prometheus metrics (/metrics): request counts and latency by route pattern (never by raw URL, which
// may carry directory names), plus process defaults and a few domain counters.
import type { FastifyInstance } from 'fastify';
import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'coffer_http_requests_total',
    help: 'HTTP requests by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'coffer_http_request_duration_seconds',
    help: 'HTTP request duration by route pattern',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const backupsCommitted = new Counter({
    name: 'coffer_backups_committed_total',
    help: 'message backups made current',
    registers: [registry],
  });
  const credentialsIssued = new Counter({
    name: 'coffer_credentials_issued_total',
    help: 'blind credentials signed',
    registers: [registry],
  });
  return { registry, requests, duration, backupsCommitted, credentialsIssued };
}
export type Metrics = ReturnType<typeof createMetrics>;

export function installMetrics(app: FastifyInstance, m: Metrics): void {
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    m.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    m.duration.observe({ route }, reply.elapsedTime / 1000);
  });
}
