// Network and storage faults over real sockets (issue 7): a connection dropped mid-upload, a
// stalled connection and a slow-loris upload (the server must close idle sockets), the S3 blob store
// and PostgreSQL becoming unreachable mid-request (a TCP proxy in front of each, cut and restored),
// and a full disk (a 4 MiB tmpfs as the data folder). After each: the previous backup is intact and
// byte-identical, nothing half-written became current, the upload resumes, and every error answer
// carries a documented code.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as tus from 'tus-js-client';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../packages/server/test/helpers.ts';
import { socketClient } from '../../packages/server/test/socket-helpers.ts';
import { startFaultProxy } from '../../test-support/proxy.ts';
import {
  createPgSchema,
  createS3Prefix,
  freePortInRange,
  type PgSchema,
  type S3Prefix,
} from '../../test-support/services.ts';

type Client = ReturnType<typeof socketClient>;
interface Form {
  uploadUrl: string;
  headers: Record<string, string>;
  uploadId: string;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

function upload(form: Form, data: Buffer, uploadUrl?: string): Promise<string | null> {
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
function tusErrorCode(err: unknown): string {
  const res = (err as { originalResponse?: { getStatus(): number; getBody(): string } | null })
    .originalResponse;
  if (!res || res.getStatus() === 0) return 'network';
  try {
    return JSON.parse(res.getBody()).error.code as string;
  } catch {
    return `HTTP ${res.getStatus()} without a code: ${res.getBody()?.slice(0, 200)}`;
  }
}

async function server(
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

async function account(ts: TestServer, base: string): Promise<Client> {
  const c = socketClient(base, () => ts.clock.t);
  await c.register(ts.sender);
  expect((await c.fetchCredentials([0])).status).toBe(200);
  expect((await c.setKey(1)).status).toBe(204);
  return c;
}

async function form(c: Client, len: number): Promise<Form> {
  const f = await c.signed('GET', `/v1/archives/upload/form?uploadLength=${len}`);
  expect(f.status, JSON.stringify(f.body)).toBe(200);
  return f.body as Form;
}

/** The current backup's bytes (empty when the download is refused). */
async function current(c: Client): Promise<Buffer> {
  const r = await c.signed('GET', '/v1/archives/auth/read');
  expect(r.status).toBe(200);
  const dl = await fetch(r.body.backupUrl, { headers: r.body.headers });
  return dl.status === 200 ? Buffer.from(await dl.arrayBuffer()) : Buffer.alloc(0);
}

describe('connection faults', () => {
  it('a connection dropped mid-upload: previous backup intact, the upload resumes from the server offset', async () => {
    const { ts, base } = await server();
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(base).port) });
    cleanups.push(() => proxy.close());
    const c = await account(ts, proxy.url);
    const v1 = randomBytes(50_000);
    await upload(await form(c, v1.length), v1);
    const v2 = randomBytes(1_000_000);
    const f = await form(c, v2.length);
    proxy.cutAfterUpBytes(400_000);
    const err = await upload(f, v2).then(
      () => undefined,
      (e: unknown) => e as { url?: string },
    );
    expect(err, 'the cut must fail the upload').toBeDefined();
    expect(tusErrorCode(err)).toBe('network');
    proxy.cutAfterUpBytes(undefined);
    expect((await current(c)).equals(v1)).toBe(true);
    const head = await fetch(`${f.uploadUrl}/${f.uploadId}`, {
      method: 'HEAD',
      headers: { ...f.headers, 'tus-resumable': '1.0.0' },
    });
    const offset = Number(head.headers.get('upload-offset'));
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThan(v2.length);
    const before = proxy.bytesUp;
    await upload(f, v2, `${f.uploadUrl}/${f.uploadId}`);
    expect(proxy.bytesUp - before).toBeLessThan(v2.length - offset + 64 * 1024); // resumed, not restarted
    expect((await current(c)).equals(v2)).toBe(true);
  });

  it('a stalled connection is closed by the server after the idle timeout; the upload then resumes', async () => {
    const idleMs = 1500; // server()'s default limits.idleTimeoutMs
    const { ts, base } = await server({}, undefined, idleMs);
    const proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(base).port) });
    cleanups.push(() => proxy.close());
    const c = await account(ts, proxy.url);
    const data = randomBytes(600_000);
    const f = await form(c, data.length);
    // The stall is armed before the upload starts and fires at a known byte, whatever the machine's
    // speed: the proxy forwards the tus POST and three 64 KiB PATCHes (each answered before
    // tus-js-client sends the next), then stops forwarding about 30 KiB into the fourth PATCH body.
    // (Mid-body on purpose: the idle timeout is re-armed once a request's headers are in, so the
    // stall must not land in the headers, which take well under 2 KiB per request.)
    const acknowledged = 3 * 64 * 1024;
    const stallAt = acknowledged + 32 * 1024;
    const before = proxy.bytesUp;
    proxy.stallAfterUpBytes(stallAt);
    const outcome = await upload(f, data).then(
      () => 'done',
      (e: unknown) => tusErrorCode(e),
    );
    const stall = proxy.stalled;
    // The stalled path ran: the proxy stopped after exactly stallAt bytes (the rest of the 600 kB
    // could not have reached the server, so the upload cannot have finished)...
    expect(stall, 'the proxy must have stalled the upload').toBeDefined();
    expect(stall!.bytesUp - before).toBe(stallAt);
    // ...and the client saw a dropped connection (no answer, no hang, not success).
    expect(outcome).toBe('network');
    // The server, not the client, closed the idle socket (tus-js-client has no timeout of its own),
    // and only once the idle timeout had passed: socket timeouts never fire early (the 50 ms margin
    // is for timer rounding), and 10 s bounds it from above.
    expect(stall!.closedBy).toBe('target');
    const waited = stall!.closedAt! - stall!.at;
    expect(waited).toBeGreaterThanOrEqual(idleMs - 50);
    expect(waited).toBeLessThan(10_000);
    proxy.setMode('pass');
    // The bytes the server acknowledged before the stall are kept (it may keep part of the stalled
    // PATCH too, never more than the proxy forwarded).
    await new Promise((r) => setTimeout(r, 300)); // the tus lock is released when the request ends
    const head = await fetch(`${f.uploadUrl}/${f.uploadId}`, {
      method: 'HEAD',
      headers: { ...f.headers, 'tus-resumable': '1.0.0' },
    });
    expect(head.status).toBe(200);
    const offset = Number(head.headers.get('upload-offset'));
    expect(offset).toBeGreaterThanOrEqual(acknowledged);
    expect(offset).toBeLessThan(stallAt);
    const resumedFrom = proxy.bytesUp;
    await upload(f, data, `${f.uploadUrl}/${f.uploadId}`);
    expect(proxy.bytesUp - resumedFrom).toBeLessThan(data.length - offset + 64 * 1024); // resumed, not restarted
    expect((await current(c)).equals(data)).toBe(true);
  });

  it('slow-loris: a PATCH that stops sending is cut by the server, and the bytes it sent are kept', async () => {
    const { ts, base } = await server();
    const c = await account(ts, base);
    const data = randomBytes(200_000);
    const f = await form(c, data.length);
    const create = await fetch(f.uploadUrl, {
      method: 'POST',
      headers: { ...f.headers, 'tus-resumable': '1.0.0', 'upload-length': String(data.length) },
    });
    expect(create.status).toBe(201);
    const url = new URL(`${f.uploadUrl}/${f.uploadId}`);
    const sock = connect(Number(url.port), url.hostname);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const t0 = Date.now();
    const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now() - t0)));
    sock.on('error', () => undefined);
    sock.write(
      `PATCH ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: ${f.headers.Authorization ?? f.headers.authorization}\r\n` +
        `Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n` +
        `Content-Length: ${data.length}\r\n\r\n`,
    );
    sock.write(data.subarray(0, 70_000));
    const after = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 15_000))]);
    sock.destroy();
    expect(after, 'the server must close an idle upload connection').toBeGreaterThan(0);
    expect(after).toBeLessThan(10_000);
    // the upload is not lost: resume from whatever offset the server kept
    await new Promise((r) => setTimeout(r, 300)); // the tus lock is released when the request ends
    await upload(f, data, url.toString());
    expect((await current(c)).equals(data)).toBe(true);
  });

  it('a kept-alive connection that goes silent after a response is closed after the idle timeout', async () => {
    const { base } = await server();
    const url = new URL(base);
    const sock = connect(Number(url.port), url.hostname);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.on('error', () => undefined);
    let received = '';
    let answeredAt = 0;
    sock.on('data', (d) => {
      received += d.toString('latin1');
      if (!answeredAt && received.includes('"status"')) answeredAt = Date.now();
    });
    const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now())));
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
    const at = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 15_000))]);
    sock.destroy();
    expect(received).toMatch(/^HTTP\/1\.1 200/);
    expect(received.toLowerCase()).not.toContain('connection: close');
    expect(at, 'the silent keep-alive connection was still open after 15 s').toBeGreaterThan(0);
    // limits.idleTimeoutMs is 1.5 s here (Node adds 1 s to the keep-alive wait); Fastify's default was 73 s
    expect(at - answeredAt).toBeGreaterThanOrEqual(1400);
    expect(at - answeredAt).toBeLessThan(8_000);
  });

  it('slow-loris on headers: a request whose headers never finish is closed', async () => {
    const { base } = await server();
    const url = new URL(base);
    const sock = connect(Number(url.port), url.hostname);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.on('error', () => undefined);
    const t0 = Date.now();
    const closed = new Promise<number>((r) => sock.once('close', () => r(Date.now() - t0)));
    sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const after = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 15_000))]);
    sock.destroy();
    expect(after).toBeGreaterThan(0);
  });
});

describe('storage faults', () => {
  let prefix: S3Prefix | undefined;
  let schema: PgSchema | undefined;
  afterAll(async () => {
    await prefix?.cleanup();
    await schema?.drop();
  });

  it('the S3 blob store unreachable mid-request: 503 with a code, the previous backup intact, the upload resumes', async () => {
    prefix = await createS3Prefix('netfault');
    const s3 = new URL(prefix.url);
    const endpoint = new URL(s3.searchParams.get('endpoint') as string);
    const proxy = await startFaultProxy({ host: endpoint.hostname, port: Number(endpoint.port) });
    cleanups.push(() => proxy.close());
    s3.searchParams.set('endpoint', `http://127.0.0.1:${proxy.port}`);
    const { ts, base } = await server({ blobUrl: s3.toString() }, undefined, 60_000);
    const c = await account(ts, base);
    const v1 = randomBytes(30_000);
    await upload(await form(c, v1.length), v1);
    expect((await current(c)).equals(v1)).toBe(true);

    proxy.setMode('cut');
    // reads: a documented 503, no hang
    const r = await c.signed('GET', '/v1/archives/auth/read');
    const dl = await fetch(r.body.backupUrl, { headers: r.body.headers });
    expect(dl.status).toBe(503);
    expect(((await dl.json()) as { error: { code: string } }).error.code).toBe(
      'COFFER_ERR_BLOB_STORE_UNAVAILABLE',
    );
    // writes: the upload fails with a documented code
    const v2 = randomBytes(120_000);
    const f = await form(c, v2.length);
    const code = await upload(f, v2).then(
      () => 'accepted',
      (e: unknown) => tusErrorCode(e),
    );
    expect(code === 'network' || code === 'COFFER_ERR_BLOB_STORE_UNAVAILABLE', `upload answer: ${code}`).toBe(
      true,
    );
    expect(code).not.toBe('accepted');

    proxy.setMode('pass');
    expect((await current(c)).equals(v1), 'nothing half-written became current').toBe(true);
    const head = await fetch(`${f.uploadUrl}/${f.uploadId}`, {
      method: 'HEAD',
      headers: { ...f.headers, 'tus-resumable': '1.0.0' },
    });
    if (head.status === 200) await upload(f, v2, `${f.uploadUrl}/${f.uploadId}`);
    else await upload(await form(c, v2.length), v2);
    expect((await current(c)).equals(v2)).toBe(true);
  });

  it('PostgreSQL unreachable mid-request: 503 COFFER_ERR_DATABASE_UNAVAILABLE, no change, service resumes when it is back', async () => {
    schema = await createPgSchema('netfault');
    const pgUrl = new URL(schema.url);
    const proxy = await startFaultProxy({ host: pgUrl.hostname, port: Number(pgUrl.port || 5432) });
    cleanups.push(() => proxy.close());
    pgUrl.host = `127.0.0.1:${proxy.port}`;
    const { ts, base } = await server({ databaseUrl: pgUrl.toString() }, undefined, 60_000);
    const c = await account(ts, base);
    const v1 = randomBytes(30_000);
    await upload(await form(c, v1.length), v1);

    proxy.setMode('cut');
    const answers = [
      await c.json({
        method: 'POST',
        url: '/v1/verification/sessions',
        payload: { identifier: 'x@example.org' },
      }),
      await c.signed('GET', '/v1/archives'),
    ];
    for (const a of answers) {
      expect({ status: a.status, code: a.body?.error?.code }, JSON.stringify(a.body)).toEqual({
        status: 503,
        code: 'COFFER_ERR_DATABASE_UNAVAILABLE',
      });
    }
    const v2 = randomBytes(80_000);
    const formWhileDown = await c.signed('GET', `/v1/archives/upload/form?uploadLength=${v2.length}`);
    expect(formWhileDown.status).toBe(503);
    expect(formWhileDown.body.error.code).toBe('COFFER_ERR_DATABASE_UNAVAILABLE');

    proxy.setMode('pass');
    let info = await c.signed('GET', '/v1/archives');
    for (let i = 0; i < 20 && info.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 250));
      info = await c.signed('GET', '/v1/archives');
    }
    expect(info.status).toBe(200);
    expect((await current(c)).equals(v1)).toBe(true);
    await upload(await form(c, v2.length), v2);
    expect((await current(c)).equals(v2)).toBe(true);
  });

  it('a full disk (4 MiB tmpfs): the upload fails with a code, the previous backup stays, it resumes once space is freed', async () => {
    const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-fulldisk-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mnt], { stdio: 'pipe' });
    } catch (err) {
      throw new Error(
        `this test mounts a 4 MiB tmpfs and needs root (CAP_SYS_ADMIN): ${(err as Error).message}`,
      );
    }
    cleanups.push(async () => {
      execFileSync('umount', ['-l', mnt], { stdio: 'pipe' });
      fs.rmSync(mnt, { recursive: true, force: true });
    });
    const dir = path.join(mnt, 'data');
    const { ts, base } = await server(
      {
        dataDir: dir,
        databaseUrl: `sqlite:${path.join(dir, 'coffer.db')}`,
        blobUrl: `file:${path.join(dir, 'blobs')}`,
        tusDir: path.join(dir, 'tus'),
      },
      dir,
      60_000,
    );
    const c = await account(ts, base);
    const v1 = randomBytes(200_000);
    await upload(await form(c, v1.length), v1);
    // fill the disk, leaving less than the next backup needs
    const filler = path.join(mnt, 'filler');
    const free = () => {
      const s = fs.statfsSync(mnt);
      return s.bavail * s.bsize;
    };
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, free() - 300_000)));
    const v2 = randomBytes(1_500_000);
    const f = await form(c, v2.length);
    const code = await upload(f, v2).then(
      () => 'accepted',
      (e: unknown) => tusErrorCode(e),
    );
    expect(code, 'a full disk must fail the upload').not.toBe('accepted');
    expect(code === 'network' || code === 'COFFER_ERR_STORAGE_FULL', `upload answer: ${code}`).toBe(true);
    // while the disk is full even the replay store may not record a signature: then 507 STORAGE_FULL
    const whileFull = await c.signed('GET', '/v1/archives');
    expect(
      whileFull.status === 200 || whileFull.body?.error?.code === 'COFFER_ERR_STORAGE_FULL',
      JSON.stringify(whileFull.body),
    ).toBe(true);

    fs.rmSync(filler);
    expect((await current(c)).equals(v1), 'the previous backup must be intact').toBe(true);
    const head = await fetch(`${f.uploadUrl}/${f.uploadId}`, {
      method: 'HEAD',
      headers: { ...f.headers, 'tus-resumable': '1.0.0' },
    });
    if (head.status === 200) await upload(f, v2, `${f.uploadUrl}/${f.uploadId}`);
    else await upload(await form(c, v2.length), v2); // the upload was never created: start again
    expect((await current(c)).equals(v2)).toBe(true);
  });
});
