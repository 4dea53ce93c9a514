// Shared by the fault suites (network.test.ts, storage-faults.test.ts): a test server on a
// loopback port with a short idle timeout, an account with a registered backup-id key, tus uploads
// without retries, and the current backup's bytes.
import * as tus from 'tus-js-client';
import { expect } from 'vitest';
import { startTestServer, type TestServer } from '../../packages/server/test/helpers.ts';
import { socketClient } from '../../packages/server/test/socket-helpers.ts';
import { freePortInRange } from '../../test-support/services.ts';

export type Client = ReturnType<typeof socketClient>;
export interface Form {
  uploadUrl: string;
  headers: Record<string, string>;
  uploadId: string;
}

/** Closers of what a test file started (servers, proxies); the file runs them in its afterAll. */
export const cleanups: (() => Promise<unknown>)[] = [];
export async function runCleanups(): Promise<void> {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
}

export function upload(form: Form, data: Buffer, uploadUrl?: string): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const u: tus.Upload = new tus.Upload(data, {
      endpoint: form.uploadUrl,
      headers: form.headers,
      chunkSize: 64 * 1024,
      retryDelays: [],
      storeFingerprintForResuming: false,
      ...(uploadUrl ? { uploadUrl } : {}),
      onSuccess: () => resolve(u.url),
      onError: (err) => reject(Object.assign(err, { url: u.url })),
    });
    u.start();
  });
}

/** The documented code of a tus error answer, or 'network' for a dropped connection. */
export function tusErrorCode(err: unknown): string {
  const res = (err as { originalResponse?: { getStatus(): number; getBody(): string } | null })
    .originalResponse;
  if (!res || res.getStatus() === 0) return 'network';
  try {
    return JSON.parse(res.getBody()).error.code as string;
  } catch {
    return `HTTP ${res.getStatus()} without a code: ${res.getBody()?.slice(0, 200)}`;
  }
}

export async function server(
  overrides: Record<string, unknown> = {},
  dir?: string,
  idleTimeoutMs = 1500,
): Promise<{ ts: TestServer; base: string }> {
  const port = await freePortInRange(29400, 29499);
  const ts = await startTestServer(
    { host: '127.0.0.1', port, limits: { idleTimeoutMs }, ...overrides },
    dir ? { dir } : {},
  );
  const base = await ts.server.listen();
  cleanups.push(() => ts.close());
  return { ts, base };
}

export async function account(ts: TestServer, base: string): Promise<Client> {
  const c = socketClient(base, () => ts.clock.t);
  await c.register(ts.sender);
  expect((await c.fetchCredentials([0])).status).toBe(200);
  expect((await c.setKey(1)).status).toBe(204);
  return c;
}

export async function form(c: Client, len: number): Promise<Form> {
  const f = await c.signed('GET', `/v1/archives/upload/form?uploadLength=${len}`);
  expect(f.status, JSON.stringify(f.body)).toBe(200);
  return f.body as Form;
}

/** The current backup's bytes (empty when the download is refused). */
export async function current(c: Client): Promise<Buffer> {
  const r = await c.signed('GET', '/v1/archives/auth/read');
  expect(r.status).toBe(200);
  const dl = await fetch(r.body.backupUrl, { headers: r.body.headers });
  return dl.status === 200 ? Buffer.from(await dl.arrayBuffer()) : Buffer.alloc(0);
}
