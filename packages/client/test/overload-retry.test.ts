// Back-pressure seen from the SDK: a 503 COFFER_ERR_OVERLOADED is waited out as Retry-After asks,
// and surfaces as COFFER_ERR_NETWORK (retry later) when the server stays overloaded.
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../src/api-client.ts';
import { startServer, type TestServer } from './harness.ts';

/** Headers of a request whose body never comes: it holds one in-flight slot until destroyed. */
async function holdSlot(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  s.write(
    'POST /v1/verification/sessions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{',
  );
  await new Promise((r) => setTimeout(r, 200));
  return s;
}

describe('SDK under back-pressure', () => {
  let srv: TestServer | undefined;
  afterAll(async () => srv?.close());

  it('retries 503 OVERLOADED after Retry-After, and gives up with COFFER_ERR_NETWORK', async () => {
    srv = await startServer(
      { limits: { maxRequestsInFlight: 1, overloadRetryAfterSeconds: 1 } },
      { port: 27160 + Math.floor(Math.random() * 10) },
    );
    const api = new ApiClient(srv.url);
    const slot = await holdSlot(srv.port);
    // freed while the client waits out its first Retry-After
    setTimeout(() => slot.destroy(), 400);
    const t0 = Date.now();
    const s = await api.createSession('overload@example.org');
    expect(s.sessionId).toBeTruthy();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);

    const stuck = await holdSlot(srv.port);
    try {
      const err = await api.createSession('overload2@example.org').catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('COFFER_ERR_NETWORK');
      expect((err as { details?: { serverCode?: string } }).details?.serverCode).toBe(
        'COFFER_ERR_OVERLOADED',
      );
    } finally {
      stuck.destroy();
    }
  }, 60_000);
});
