// Back-pressure (issue 7): an overloaded server answers 503 COFFER_ERR_OVERLOADED with Retry-After
// at once, keeps health and metrics answering, and serves again when the load is gone.
import net from 'node:net';
import { ERROR_STATUS } from '@coffer/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createPgSchema } from '../../../test-support/services.ts';
import { startTestServer, type TestServer } from './helpers.ts';
import { socketClient, tusUpload } from './socket-helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A request whose headers arrive but whose body never does: it stays in flight until closed. */
async function stalledRequest(base: string): Promise<net.Socket> {
  const u = new URL(base);
  const s = net.connect(Number(u.port), u.hostname);
  await new Promise((r) => s.once('connect', r));
  s.write(
    'POST /v1/verification/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
  );
  return s;
}

async function expectOverloaded(r: Response, retryAfter: number) {
  expect(r.status).toBe(503);
  expect(r.headers.get('retry-after')).toBe(String(retryAfter));
  const body = (await r.json()) as { error: { code: string; retryAfterSeconds: number } };
  expect(body.error.code).toBe('COFFER_ERR_OVERLOADED');
  expect(body.error.retryAfterSeconds).toBe(retryAfter);
  expect(ERROR_STATUS[body.error.code]).toBe(503);
}

describe('back-pressure', () => {
  let ts: TestServer | undefined;
  afterEach(async () => {
    await ts?.close();
    ts = undefined;
  });

  it('refuses requests beyond limits.maxRequestsInFlight with 503 OVERLOADED, and counts finished ones out', async () => {
    ts = await startTestServer({ limits: { maxRequestsInFlight: 3, overloadRetryAfterSeconds: 7 } });
    const base = await ts.server.listen();
    const c = socketClient(base, () => ts!.clock.t);
    await c.register(ts.sender);
    await c.fetchCredentials([0]);
    expect((await c.setKey(1)).status).toBe(204);
    // Completed requests of every kind leave the count: sequential socket requests, injected
    // requests (no socket) and tus uploads (hijacked replies) far beyond the limit all pass.
    for (let i = 0; i < 10; i++) expect((await fetch(`${base}/v1/archives`)).status).not.toBe(503);
    for (let i = 0; i < 10; i++)
      expect((await ts.server.app.inject({ method: 'GET', url: '/v1/archives' })).statusCode).not.toBe(503);
    for (let i = 0; i < 4; i++) {
      const f = await c.signed('GET', '/v1/archives/upload/form?uploadLength=1000');
      expect(f.status).toBe(200);
      await tusUpload(f.body, Buffer.alloc(1000, i));
    }

    const held = await Promise.all([stalledRequest(base), stalledRequest(base), stalledRequest(base)]);
    await sleep(200);
    await expectOverloaded(await fetch(`${base}/v1/archives`), 7);
    const form = await c.signed('GET', '/v1/archives/upload/form?uploadLength=1000');
    expect(form.status).toBe(503);
    expect(form.body.error.code).toBe('COFFER_ERR_OVERLOADED');
    // operators still see the process
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/metrics`)).status).toBe(200);

    for (const s of held) s.destroy();
    await sleep(200);
    const again = await c.signed('GET', '/v1/archives/upload/form?uploadLength=1000');
    expect(again.status).toBe(200);
  });

  it('refuses requests while more than limits.maxDbWaiting queries wait for a PostgreSQL connection', async () => {
    const schema = await createPgSchema('backpressure');
    try {
      const url = `${schema.url}${schema.url.includes('?') ? '&' : '?'}max=1`;
      ts = await startTestServer({
        databaseUrl: url,
        limits: { maxDbWaiting: 2, overloadRetryAfterSeconds: 4 },
      });
      const base = await ts.server.listen();
      expect((await fetch(`${base}/v1/archives`)).status).not.toBe(503);
      // The pool's one connection is held; three queries queue behind it.
      const db = ts.server.ctx.db;
      let release = () => {};
      const held = db.connection().execute(() => new Promise<void>((r) => (release = r)));
      await sleep(200);
      const queued = [1, 2, 3].map(() => db.selectFrom('settings').select('name').execute());
      await expectOverloaded(await fetch(`${base}/v1/archives`), 4);
      release();
      await held;
      await Promise.all(queued);
      expect((await fetch(`${base}/v1/archives`)).status).not.toBe(503);
    } finally {
      await ts?.close();
      ts = undefined;
      await schema.drop();
    }
  });

  it('refuses requests while the event loop lags beyond limits.maxEventLoopDelayMs', async () => {
    ts = await startTestServer({ limits: { maxEventLoopDelayMs: 50, overloadRetryAfterSeconds: 3 } });
    const base = await ts.server.listen();
    expect((await fetch(`${base}/v1/archives`)).status).not.toBe(503);
    // Keep the loop busy most of the time (as a flood of CPU-bound requests would) for two sampling
    // windows, then ask while it is still busy.
    let busy = true;
    const hog = setInterval(() => {
      const t = Date.now();
      while (busy && Date.now() - t < 120) {}
    }, 1);
    try {
      await sleep(1300);
      await expectOverloaded(await fetch(`${base}/v1/archives`), 3);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      busy = false;
      clearInterval(hog);
    }
    await sleep(1300);
    expect((await fetch(`${base}/v1/archives`)).status).not.toBe(503);
  });
});
