// biome-ignore-all lint/suspicious/noExplicitAny: tests read arbitrary JSON responses
// Services stopped and restarted under a running server, and stores filling up (issue 7):
// - a throwaway PostgreSQL stopped during an upload and during a commit, then started again;
// - the tus folder and the file blob store on a tiny tmpfs that fills up (and blobs alone on it,
//   so the commit's copy is what fails);
// - a throwaway Swift (S3) stopped during an upload, then started again (PostgreSQL + S3).
// The server process keeps running throughout. While a service is down every answer carries its
// documented code (503 COFFER_ERR_DATABASE_UNAVAILABLE with Retry-After, 507 COFFER_ERR_STORAGE_FULL,
// 503 COFFER_ERR_BLOB_STORE_UNAVAILABLE); afterwards the previous backup is byte-identical, nothing
// half-written became current, the interrupted upload resumes and its backup becomes current.
// Ports 27300-27399: PostgreSQL 27310-27319, Swift 27320-27324, servers 27330-27349.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import * as tus from 'tus-js-client';
import { afterAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../packages/server/test/helpers.ts';
import { socketClient } from '../../packages/server/test/socket-helpers.ts';
import {
  createPgSchema,
  freePortInRange,
  parseS3Url,
  S3_TEST_SECRET,
  S3_TEST_USER,
  sharedScriptsDir,
  testS3Client,
} from '../../test-support/services.ts';

const run = promisify(execFile);
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

// ------------------------------------------------------------------------------ helpers

/** A tus upload; `onChunk` sees the bytes the server acknowledged so far. */
function upload(
  form: Form,
  data: Buffer,
  o: { uploadUrl?: string; chunkSize?: number; onChunk?: (accepted: number) => void } = {},
): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const u: tus.Upload = new tus.Upload(data, {
      endpoint: form.uploadUrl,
      headers: form.headers,
      chunkSize: o.chunkSize ?? 64 * 1024,
      retryDelays: [],
      storeFingerprintForResuming: false,
      ...(o.uploadUrl ? { uploadUrl: o.uploadUrl } : {}),
      onChunkComplete: (_c, accepted) => o.onChunk?.(accepted),
      onSuccess: () => resolve(u.url),
      onError: (err) => reject(err),
    });
    u.start();
  });
}

/** The status, code and Retry-After of a failed tus upload ('network' for a dropped connection). */
function tusFailure(err: unknown): { status: number; code: string; retryAfter: string | null } {
  const res = (
    err as {
      originalResponse?: {
        getStatus(): number;
        getBody(): string;
        getHeader(n: string): string | undefined;
      } | null;
    }
  ).originalResponse;
  if (!res || res.getStatus() === 0) return { status: 0, code: 'network', retryAfter: null };
  let code: string;
  try {
    code = JSON.parse(res.getBody()).error.code;
  } catch {
    code = `HTTP ${res.getStatus()} without a code: ${res.getBody()?.slice(0, 200)}`;
  }
  return { status: res.getStatus(), code, retryAfter: res.getHeader('retry-after') ?? null };
}

async function expectUploadFails(p: Promise<unknown>) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'the upload must fail while the service is down').toBeDefined();
  return tusFailure(err);
}

async function server(
  overrides: Record<string, unknown>,
  opts: { dir?: string; faultDelayCommitMs?: number } = {},
) {
  const port = await freePortInRange(27330, 27349);
  const ts = await startTestServer(
    { host: '127.0.0.1', port, limits: { idleTimeoutMs: 60_000 }, ...overrides },
    opts,
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

/** The current backup's bytes. */
async function current(c: Client): Promise<Buffer> {
  const r = await c.signed('GET', '/v1/archives/auth/read');
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  const dl = await fetch(r.body.backupUrl, { headers: r.body.headers });
  expect(dl.status).toBe(200);
  return Buffer.from(await dl.arrayBuffer());
}

/** The server's offset of an upload (HEAD), or undefined if it does not know it. */
async function serverOffset(f: Form): Promise<number | undefined> {
  const head = await fetch(`${f.uploadUrl}/${f.uploadId}`, {
    method: 'HEAD',
    headers: { ...f.headers, 'tus-resumable': '1.0.0' },
  });
  return head.status === 200 ? Number(head.headers.get('upload-offset')) : undefined;
}

/** Polls `probe` until it is true (a restarted service takes a moment to answer). */
async function eventually(probe: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > until) throw new Error('the service did not come back in time');
    await new Promise((r) => setTimeout(r, 250));
  }
}

function expectOutage(
  a: { status: number; body: any; headers: Record<string, unknown> },
  status: number,
  code: string,
) {
  expect({ status: a.status, code: a.body?.error?.code }, JSON.stringify(a.body)).toEqual({ status, code });
  expect(Number(a.headers['retry-after'])).toBeGreaterThan(0);
  expect(a.body.error.retryAfterSeconds).toBe(Number(a.headers['retry-after']));
}

// ------------------------------------------------------------------------------ PostgreSQL

/** A throwaway PostgreSQL cluster of our own (never the shared one on 5432). */
async function throwawayPostgres() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-outage-pg-'));
  const port = await freePortInRange(27310, 27319);
  const script = path.join(sharedScriptsDir(), 'postgres-throwaway.sh');
  const start = () => run('bash', [script, dir, String(port)]);
  const stop = () => run('bash', [script, '--stop', dir]);
  await start();
  cleanups.push(async () => {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // The script runs PostgreSQL with synchronous_commit=off (fast, for tests): an immediate stop then
  // loses the last commits, which a real deployment never does. Our sessions commit synchronously.
  const options = encodeURIComponent('-c synchronous_commit=on');
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres?options=${options}`, start, stop };
}

describe('PostgreSQL stopped and restarted under a running server', () => {
  it('during an upload and during a commit: 503 DATABASE_UNAVAILABLE with Retry-After, then everything resumes', async () => {
    const pg = await throwawayPostgres();
    // The commit waits 1.5 s between storing the blob and its transaction: PostgreSQL stops there.
    const { ts, base } = await server({ databaseUrl: pg.url }, { faultDelayCommitMs: 1500 });
    const c = await account(ts, base);
    const v1 = randomBytes(120_000);
    await upload(await form(c, v1.length), v1);
    expect((await current(c)).equals(v1)).toBe(true);

    // 1. Stopped in the middle of an upload.
    const v2 = randomBytes(1_200_000);
    const f2 = await form(c, v2.length);
    let stopping: Promise<unknown> | undefined;
    const failed = await expectUploadFails(
      upload(f2, v2, {
        onChunk: (n) => {
          if (n >= 300_000) stopping ??= pg.stop();
        },
      }),
    );
    await stopping;
    expect(failed.code === 'network' || failed.code === 'COFFER_ERR_DATABASE_UNAVAILABLE', failed.code).toBe(
      true,
    );
    // While it is down: the JSON API answers the code with Retry-After, for signed and plain requests.
    expectOutage(await c.signed('GET', '/v1/archives'), 503, 'COFFER_ERR_DATABASE_UNAVAILABLE');
    expectOutage(
      await c.json({
        method: 'POST',
        url: '/v1/verification/sessions',
        payload: { identifier: 'x@example.org' },
      }),
      503,
      'COFFER_ERR_DATABASE_UNAVAILABLE',
    );
    // and so does the upload endpoint (its lock lives in PostgreSQL)
    const patch = await expectUploadFails(upload(f2, v2, { uploadUrl: `${f2.uploadUrl}/${f2.uploadId}` }));
    expect(patch).toMatchObject({ status: 503, code: 'COFFER_ERR_DATABASE_UNAVAILABLE' });
    expect(Number(patch.retryAfter)).toBeGreaterThan(0);

    await pg.start();
    await eventually(async () => (await c.signed('GET', '/v1/archives')).status === 200);
    expect((await current(c)).equals(v1), 'the previous backup is intact').toBe(true);
    const offset = await serverOffset(f2);
    expect(offset).toBeGreaterThan(0);
    await upload(f2, v2, { uploadUrl: `${f2.uploadUrl}/${f2.uploadId}` });
    expect((await current(c)).equals(v2)).toBe(true);

    // 2. Stopped while a commit is between its blob and its transaction.
    const v3 = randomBytes(90_000);
    const f3 = await form(c, v3.length);
    const committing = upload(f3, v3, { chunkSize: v3.length });
    await new Promise((r) => setTimeout(r, 600));
    await pg.stop();
    const commitFailure = await expectUploadFails(committing);
    expect(commitFailure).toMatchObject({ status: 503, code: 'COFFER_ERR_DATABASE_UNAVAILABLE' });
    await pg.start();
    await eventually(async () => (await c.signed('GET', '/v1/archives')).status === 200);
    expect((await current(c)).equals(v2), 'the half-committed upload did not become current').toBe(true);
    // Resuming asks HEAD, which finishes the interrupted commit: nothing is sent again.
    await upload(f3, v3, { uploadUrl: `${f3.uploadUrl}/${f3.uploadId}` });
    expect((await current(c)).equals(v3)).toBe(true);
    const versions = await c.signed('GET', '/v1/archives/versions');
    expect(versions.status).toBe(200);
  });
});

// ------------------------------------------------------------------------------ full disk

/** A tmpfs of `size` mounted on a new folder (root only; unmounted after the file). */
function tinyFilesystem(size: string): string {
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-outage-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mnt], { stdio: 'pipe' });
  } catch (err) {
    fs.rmSync(mnt, { recursive: true, force: true });
    throw new Error(
      `this test mounts a ${size} tmpfs and needs root (CAP_SYS_ADMIN): ${(err as Error).message}`,
    );
  }
  cleanups.push(async () => {
    execFileSync('umount', ['-l', mnt], { stdio: 'pipe' });
    fs.rmSync(mnt, { recursive: true, force: true });
  });
  return mnt;
}

/** Fills `mnt` until `leave` bytes are free; returns a function that frees the space again. */
function fill(mnt: string, leave: number): () => void {
  const s = fs.statfsSync(mnt);
  const filler = path.join(mnt, `filler-${randomBytes(4).toString('hex')}`);
  fs.writeFileSync(filler, Buffer.alloc(Math.max(0, s.bavail * s.bsize - leave)));
  return () => fs.rmSync(filler);
}

describe('a store that fills up', () => {
  it('tus folder and blobs on a full 8 MiB tmpfs: 507 STORAGE_FULL, earlier backups intact, the upload resumes once space is freed', async () => {
    const mnt = tinyFilesystem('8m');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-outage-data-'));
    cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    const { ts, base } = await server(
      {
        dataDir: dir,
        databaseUrl: `sqlite:${path.join(dir, 'coffer.db')}`,
        blobUrl: `file:${path.join(mnt, 'blobs')}`,
        tusDir: path.join(mnt, 'tus'),
      },
      { dir },
    );
    const c = await account(ts, base);
    const v1 = randomBytes(400_000);
    await upload(await form(c, v1.length), v1);

    const free = fill(mnt, 256 * 1024);
    const v2 = randomBytes(2_000_000);
    const f = await form(c, v2.length);
    const failure = await expectUploadFails(upload(f, v2));
    expect(failure).toMatchObject({ status: 507, code: 'COFFER_ERR_STORAGE_FULL' });
    expect(Number(failure.retryAfter)).toBeGreaterThan(0);
    // the metadata store (another disk) still answers, and the previous backup reads back whole
    expect((await c.signed('GET', '/v1/archives')).status).toBe(200);
    expect((await current(c)).equals(v1)).toBe(true);
    const kept = await serverOffset(f);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(v2.length);

    free();
    await upload(f, v2, { uploadUrl: `${f.uploadUrl}/${f.uploadId}` });
    expect((await current(c)).equals(v2)).toBe(true);
  });

  it('blobs alone on a full tmpfs: the commit copy fails with 507, nothing half-written is current, the commit completes after space is freed', async () => {
    const mnt = tinyFilesystem('4m');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-outage-data-'));
    cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
    // The tus folder on another filesystem: the commit cannot hard-link, it copies into the blob store.
    const { ts, base } = await server(
      {
        dataDir: dir,
        databaseUrl: `sqlite:${path.join(dir, 'coffer.db')}`,
        blobUrl: `file:${path.join(mnt, 'blobs')}`,
        tusDir: path.join(dir, 'tus'),
      },
      { dir },
    );
    const c = await account(ts, base);
    const v1 = randomBytes(300_000);
    await upload(await form(c, v1.length), v1);
    const free = fill(mnt, 200 * 1024);
    const v2 = randomBytes(1_000_000);
    const f = await form(c, v2.length);
    const failure = await expectUploadFails(upload(f, v2, { chunkSize: 256 * 1024 }));
    expect(failure).toMatchObject({ status: 507, code: 'COFFER_ERR_STORAGE_FULL' });
    expect((await current(c)).equals(v1)).toBe(true);
    // no partial object was left in the blob store's temp folder
    expect(fs.readdirSync(path.join(mnt, 'blobs', '.tmp'))).toEqual([]);

    free();
    await upload(f, v2, { uploadUrl: `${f.uploadUrl}/${f.uploadId}` });
    expect((await current(c)).equals(v2)).toBe(true);
    // A download that finished as close began must not hold the close until the idle timeout.
    const t0 = Date.now();
    await ts.server.close();
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});

// ------------------------------------------------------------------------------ S3 (Swift)

describe('Swift (S3) stopped and restarted under a running server (PostgreSQL + S3)', () => {
  it('503 BLOB_STORE_UNAVAILABLE while it is down; the upload resumes and commits after the restart', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-outage-swift-'));
    const script = path.join(sharedScriptsDir(), 's3-swift.sh');
    const port = 27320;
    const start = () =>
      run('bash', [script, dir, String(port)], { env: { ...process.env, S3_MIN_PART_SIZE: '1048576' } });
    const stop = () => run('bash', [script, '--stop', dir]);
    cleanups.push(async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    await start();
    const endpoint = `http://127.0.0.1:${port}`;
    const s3Url =
      `s3://${encodeURIComponent(S3_TEST_USER)}:${encodeURIComponent(S3_TEST_SECRET)}@coffer-outage` +
      `?endpoint=${encodeURIComponent(endpoint)}&region=us-east-1&forcePathStyle=true`;
    const admin = testS3Client(parseS3Url(s3Url));
    await admin.send(new CreateBucketCommand({ Bucket: 'coffer-outage' }));
    admin.destroy();
    const schema = await createPgSchema('outage');
    cleanups.push(() => schema.drop());
    const { ts, base } = await server({ databaseUrl: schema.url, blobUrl: s3Url });
    const c = await account(ts, base);
    const v1 = randomBytes(150_000);
    await upload(await form(c, v1.length), v1);
    expect((await current(c)).equals(v1)).toBe(true);

    const v2 = randomBytes(1_500_000);
    const f = await form(c, v2.length);
    let stopping: Promise<unknown> | undefined;
    const failure = await expectUploadFails(
      upload(f, v2, {
        chunkSize: 256 * 1024,
        onChunk: (n) => {
          if (n >= 512 * 1024) stopping ??= stop();
        },
      }),
    );
    await stopping;
    expect(
      failure.code === 'network' || failure.code === 'COFFER_ERR_BLOB_STORE_UNAVAILABLE',
      failure.code,
    ).toBe(true);
    // Downloads answer the code too (after the blob store wrapper's retries).
    const r = await c.signed('GET', '/v1/archives/auth/read');
    expect(r.status).toBe(200);
    const dl = await fetch(r.body.backupUrl, { headers: r.body.headers });
    expect(dl.status).toBe(503);
    expect(((await dl.json()) as { error: { code: string } }).error.code).toBe(
      'COFFER_ERR_BLOB_STORE_UNAVAILABLE',
    );
    expect(Number(dl.headers.get('retry-after'))).toBeGreaterThan(0);
    // The upload endpoint answers the code too, not "upload not found" (which made clients start
    // over): HEAD has no body, so its status is checked; a PATCH carries the JSON code.
    const uploadUrl = `${f.uploadUrl}/${f.uploadId}`;
    const head = await fetch(uploadUrl, {
      method: 'HEAD',
      headers: { ...f.headers, 'tus-resumable': '1.0.0' },
    });
    expect(head.status).toBe(503);
    const patch = await fetch(uploadUrl, {
      method: 'PATCH',
      headers: {
        ...f.headers,
        'tus-resumable': '1.0.0',
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
      },
      body: v2.subarray(0, 1000),
    });
    expect(patch.status).toBe(503);
    expect(((await patch.json()) as { error: { code: string } }).error.code).toBe(
      'COFFER_ERR_BLOB_STORE_UNAVAILABLE',
    );
    expect(Number(patch.headers.get('retry-after'))).toBeGreaterThan(0);

    await start();
    await eventually(async () => {
      const a = await c.signed('GET', '/v1/archives/auth/read');
      const d = await fetch(a.body.backupUrl, { headers: a.body.headers });
      await d.arrayBuffer();
      return d.status === 200;
    }, 60_000);
    expect((await current(c)).equals(v1), 'the previous backup is intact').toBe(true);
    await upload(f, v2, { uploadUrl, chunkSize: 256 * 1024 });
    expect((await current(c)).equals(v2)).toBe(true);
  }, 180_000); // two Swift starts (5-15 s each) and the store's retries while it is down
});
