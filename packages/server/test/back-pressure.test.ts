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

/** One raw HTTP/1.1 connection: what it received, and whether it was reset or closed. */
function rawConnection(base: string) {
  const u = new URL(base);
  const s = net.connect(Number(u.port), u.hostname);
  const state = { data: '', error: undefined as Error | undefined, closed: false };
  s.on('data', (d) => (state.data += d.toString('latin1')));
  s.on('error', (e) => (state.error = e));
  s.on('close', () => (state.closed = true));
  /** Resolves with the next complete response (head and Content-Length body) on the connection. */
  const response = async (ms = 5_000) => {
    const until = Date.now() + ms;
    for (;;) {
      const end = state.data.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = state.data.slice(0, end);
        const len = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (state.data.length >= end + 4 + len) {
          const body = state.data.slice(end + 4, end + 4 + len);
          state.data = state.data.slice(end + 4 + len);
          return { status: Number(head.split(' ')[1]), head: head.toLowerCase(), body };
        }
      }
      if (state.error || state.closed || Date.now() > until)
        throw new Error(
          `no whole response: ${state.error?.message ?? (state.closed ? 'closed' : 'timeout')}`,
        );
      await sleep(20);
    }
  };
  const write = (b: string | Buffer) => new Promise<void>((r) => s.write(b, () => r()));
  return { s, state, response, write };
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

  it('a refused request with a small body gets a readable 503 on a connection it keeps; a large one is closed unread', async () => {
    ts = await startTestServer({ limits: { maxRequestsInFlight: 1, overloadRetryAfterSeconds: 5 } });
    const base = await ts.server.listen();
    const held = await stalledRequest(base);
    const opened: net.Socket[] = [held];
    try {
      await sleep(200);
      // The body arrives in two halves, the second after the server could have answered and closed:
      // a close with the first half unread made the kernel reset the connection (ECONNRESET / EPIPE
      // at the client, no 503 to read).
      const small = rawConnection(base);
      opened.push(small.s);
      const body = Buffer.alloc(200_000, 7);
      await small.write(
        `POST /v1/uploads HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Length: ${body.length}\r\n` +
          `Content-Type: application/offset+octet-stream\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      await small.write(body.subarray(0, 100_000));
      await sleep(300);
      await small.write(body.subarray(100_000));
      await sleep(100);
      expect(small.state.error?.message, 'the connection was reset').toBeUndefined();
      const refused = await small.response();
      expect(refused.status).toBe(503);
      expect(JSON.parse(refused.body).error.code).toBe('COFFER_ERR_OVERLOADED');
      expect(refused.head).toContain('retry-after: 5');
      expect(refused.head).not.toContain('connection: close');
      // the connection still serves
      await small.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      expect((await small.response()).status).toBe(200);
      expect(small.state.error).toBeUndefined();

      // as fetch (undici) sends it, in one go: the 503, not "fetch failed" (other side closed / EPIPE)
      for (let i = 0; i < 5; i++) {
        const r = await fetch(`${base}/v1/uploads`, {
          method: 'POST',
          headers: {
            'tus-resumable': '1.0.0',
            'upload-length': '900000',
            'content-type': 'application/offset+octet-stream',
          },
          body: new Uint8Array(900_000),
        });
        await expectOverloaded(r, 5);
      }

      // A declared body beyond the bound is not read: the 503 comes at once, with Connection: close.
      const large = rawConnection(base);
      opened.push(large.s);
      await large.write(
        'PUT /v1/archives/media/batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 67108864\r\n\r\n',
      );
      const closed = await large.response();
      expect(closed.status).toBe(503);
      expect(closed.head).toContain('connection: close');
    } finally {
      for (const s of opened) s.destroy();
    }
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
