/**
 * Back-pressure (issue 7): when the process is overloaded, new requests are answered at once with
 * `503 COFFER_ERR_OVERLOADED` and `Retry-After`, instead of joining a queue that only grows (every
 * queued request holds a socket, its buffers and, later, a database connection; its client times
 * out and retries anyway). Three signals, each checked before routing:
 * - requests in flight (accepted, not yet answered; a tus upload counts until its body is in);
 * - event-loop lag: the mean delay of a 10 ms timer over the last sampling window, so one long task
 *   (a GC pause, an RSA key generation) does not trip it but a loop that is late all the time does;
 * - database connections waited for (PostgreSQL pool), when the database has a pool.
 * Health, readiness and metrics are never shed: operators and load balancers need them most then.
 * (@fastify/under-pressure measures the loop the same way but has no in-flight bound and answers
 * with its own error shape; the part we need is this small.)
 */
import type { IncomingHttpHeaders } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { PATHS } from '@coffer/protocol';
import type { FastifyInstance } from 'fastify';
import { errorBody } from './errors.ts';

export interface BackPressureLimits {
  /** Requests being handled at once; 0 = no bound. */
  maxRequestsInFlight: number;
  /** Mean event-loop lag (ms) over a sampling window; 0 = not checked. */
  maxEventLoopDelayMs: number;
  /** Requests waiting for a database connection; 0 = not checked. */
  maxDbWaiting: number;
  /** Sent as Retry-After (seconds) with every 503. */
  retryAfterSeconds: number;
}

export interface BackPressureOptions extends BackPressureLimits {
  /** How many queries wait for a pooled connection now (undefined: no pool, e.g. SQLite). */
  dbWaiting?: () => number;
  /** Length of one event-loop sampling window (ms). */
  sampleMs?: number;
}

const RESOLUTION_MS = 10;
const EXEMPT = new Set<string>([PATHS.healthz, PATHS.readyz, PATHS.metrics]);

/**
 * A refused request whose declared body is at most this long keeps its connection: Node discards
 * the unread body once the 503 is sent and the connection serves the next request. Closing instead
 * made the kernel reset a connection with body bytes still unread, so the client saw ECONNRESET or
 * EPIPE ("fetch failed") rather than a 503 it could wait out. A longer or chunked body is not worth
 * reading: that connection is closed.
 */
const DRAIN_MAX_BYTES = 1024 * 1024;

function drainable(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return false;
  const length = headers['content-length'];
  if (length === undefined) return true; // no body
  return /^\d{1,8}$/.test(length) && Number(length) <= DRAIN_MAX_BYTES;
}

export interface BackPressure {
  /** Why a request would be refused now, or undefined. */
  overloaded(): 'in-flight' | 'event-loop' | 'database' | undefined;
  inFlight(): number;
  eventLoopLagMs(): number;
  stop(): void;
}

export function installBackPressure(app: FastifyInstance, o: BackPressureOptions): BackPressure {
  let inFlight = 0;
  let lagMs = 0;
  const histogram =
    o.maxEventLoopDelayMs > 0 ? monitorEventLoopDelay({ resolution: RESOLUTION_MS }) : undefined;
  let timer: NodeJS.Timeout | undefined;
  if (histogram) {
    histogram.enable();
    timer = setInterval(() => {
      // The histogram's samples include the timer's own period; what is above it is lag.
      lagMs = histogram.count > 0 ? Math.max(0, histogram.mean / 1e6 - RESOLUTION_MS) : 0;
      histogram.reset();
    }, o.sampleMs ?? 500);
    timer.unref();
  }
  const overloaded = () => {
    if (o.maxRequestsInFlight > 0 && inFlight >= o.maxRequestsInFlight) return 'in-flight' as const;
    if (o.maxEventLoopDelayMs > 0 && lagMs > o.maxEventLoopDelayMs) return 'event-loop' as const;
    if (o.maxDbWaiting > 0 && o.dbWaiting && o.dbWaiting() > o.maxDbWaiting) return 'database' as const;
    return undefined;
  };

  app.addHook('onRequest', async (req, reply) => {
    const q = req.url.indexOf('?');
    if (EXEMPT.has(q < 0 ? req.url : req.url.slice(0, q))) return;
    if (overloaded()) {
      reply.header('retry-after', String(o.retryAfterSeconds));
      if (!drainable(req.headers)) reply.header('connection', 'close');
      return reply.status(503).send(
        errorBody('COFFER_ERR_OVERLOADED', 'the server is overloaded; retry after Retry-After seconds', {
          retryAfterSeconds: o.retryAfterSeconds,
        }),
      );
    }
    inFlight++;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
    };
    // 'close' comes for every socket response, answered, hijacked (tus) or aborted; onResponse
    // covers injected requests, whose response object may not emit it.
    reply.raw.once('close', finish);
    (req as { backPressureDone?: () => void }).backPressureDone = finish;
  });
  app.addHook('onResponse', async (req) => {
    (req as { backPressureDone?: () => void }).backPressureDone?.();
  });

  return {
    overloaded,
    inFlight: () => inFlight,
    eventLoopLagMs: () => lagMs,
    stop() {
      if (timer) clearInterval(timer);
      histogram?.disable();
    },
  };
}
