// Storage faults over real sockets (issue 7): the S3 blob store and PostgreSQL becoming
// unreachable mid-request (a TCP proxy in front of each, cut and restored), and a full disk (a
// 4 MiB tmpfs as the data folder). After each: the previous backup is intact and byte-identical,
// nothing half-written became current, the upload resumes, and every error answer carries a
// documented code. Each test sets up its own storage, so it runs in the embedded pass only.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from '../../test-support/proxy.ts';
import { createPgSchema, createS3Prefix, type PgSchema, type S3Prefix } from '../../test-support/services.ts';
import {
  account,
  cleanups,
  current,
  form,
  runCleanups,
  server,
  tusErrorCode,
  upload,
} from './fault-helpers.ts';

afterAll(runCleanups);

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
