// Open-loop HTTP load at a fixed request rate, for latency figures that do not flatter a slow server.
//
// Request i is due at start + i / rate, whatever happened to the requests before it, and its latency
// is measured from that due time to the last byte of the answer. A server that stalls therefore
// sees requests pile up exactly as it would in production, and the stall shows in every request
// that waited (no "coordinated omission"). autocannon's `overallRate` is not this: each connection
// sends its per-second quota back to back as soon as the previous answer arrives and then idles
// until the next second, so requests come in bursts at each second boundary and a stall delays the
// sending instead of being measured.
//
// Keep-alive connections are opened on demand up to `connections`; when all are busy a due request
// waits for one (counted in its latency). The generator's own lag (how late it noticed a due time)
// is reported so a starved load generator can be told apart from a slow server.
import http from 'node:http';

export interface LoadRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** A label for per-kind figures. */
  kind: string;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export interface OpenLoopResult extends LatencySummary {
  /** Requests due in the measured period. */
  due: number;
  /** Answers with a status other than 2xx, and socket errors. */
  errors: number;
  statuses: Record<string, number>;
  /** Answered requests per second over the measured period. */
  achievedRate: number;
  /** The largest delay between a due time and the moment the generator issued it, ms. */
  generatorLagMax: number;
  byKind: Record<string, LatencySummary>;
}

export interface OpenLoopOptions {
  base: string;
  rate: number;
  seconds: number;
  /** Seconds at the same rate before the measured period (JIT, caches, connection set-up); discarded. */
  warmupSeconds?: number;
  connections?: number;
  /** Request i (0-based over warm-up and measured period). */
  request: (i: number) => LoadRequest;
  /** Per-request timeout, ms (counted as an error with its full latency). */
  timeoutMs?: number;
}

export function summarize(latencies: number[]): LatencySummary {
  const s = Float64Array.from(latencies).sort();
  const q = (p: number) => (s.length ? (s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? 0) : 0);
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    count: s.length,
    p50: r(q(0.5)),
    p90: r(q(0.9)),
    p99: r(q(0.99)),
    p999: r(q(0.999)),
    max: r(s.length ? (s[s.length - 1] ?? 0) : 0),
  };
}

export async function openLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const url = new URL(o.base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections ?? 256 });
  const warm = Math.round((o.warmupSeconds ?? 0) * o.rate);
  const total = warm + Math.round(o.seconds * o.rate);
  const interval = 1000 / o.rate;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const latencies: number[] = [];
  const kindLatencies = new Map<string, number[]>();
  const statuses: Record<string, number> = {};
  let errors = 0;
  let lagMax = 0;
  let answered = 0;
  let measuredEnd = 0;

  const record = (i: number, kind: string, latency: number, status: string) => {
    answered++;
    if (i < warm) return;
    latencies.push(latency);
    const k = kindLatencies.get(kind) ?? [];
    if (k.length === 0) kindLatencies.set(kind, k);
    k.push(latency);
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (!status.startsWith('2')) errors++;
    measuredEnd = performance.now();
  };

  const start = performance.now() + 50;
  const measuredStart = start + warm * interval;
  let next = 0;
  await new Promise<void>((resolve) => {
    const fire = (i: number, due: number) => {
      const spec = o.request(i);
      let done = false;
      const finish = (status: string) => {
        if (done) return;
        done = true;
        record(i, spec.kind, performance.now() - due, status);
        if (answered === total) resolve();
      };
      const req = http.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          method: spec.method,
          path: spec.path,
          headers: spec.headers,
          timeout: timeoutMs,
        },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => finish(String(res.statusCode)));
          res.on('error', () => finish('error'));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => finish('error'));
      req.end();
    };
    // A 1 ms tick issues everything that has come due; setTimeout alone cannot keep 1,000/s.
    const tick = () => {
      const now = performance.now();
      while (next < total) {
        const due = start + next * interval;
        if (due > now) break;
        lagMax = next >= warm ? Math.max(lagMax, now - due) : lagMax;
        fire(next, due);
        next++;
      }
      if (next < total) setTimeout(tick, Math.max(0, Math.min(1, start + next * interval - now)));
    };
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
  agent.destroy();
  const byKind: Record<string, LatencySummary> = {};
  for (const [k, v] of kindLatencies) byKind[k] = summarize(v);
  const measuredCount = total - warm;
  return {
    ...summarize(latencies),
    due: measuredCount,
    errors,
    statuses,
    achievedRate: measuredCount / (Math.max(measuredEnd - measuredStart, 1) / 1000),
    generatorLagMax: Math.round(lagMax * 10) / 10,
    byKind,
  };
}
