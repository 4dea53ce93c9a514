// Attack tests not already in api-errors.test.ts: path traversal in every key-like parameter,
// upload tokens used beyond their length or on another upload, a credential made for another
// backup id, a flood of session requests from one address, oversize bodies. Runs on the embedded
// store and, in .ci/run's second pass, on PostgreSQL + S3 (COFFER_TEST_STORAGE=pg-s3), where a
// traversal would show up as an object key outside the server's prefix.
// biome-ignore-all lint/suspicious/noExplicitAny: tests read arbitrary JSON responses
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { toBase64Url } from '@coffer/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseS3Url, testS3Client, testStorageFor } from '../../../test-support/services.ts';
import { startTestServer, TestClient, type TestServer } from './helpers.ts';

/** Every stored name that contains `token`: files beside and under the data folder, or S3 keys bucket-wide. */
async function storedNamesContaining(ts: TestServer, token: string): Promise<string[]> {
  const storage = await testStorageFor(ts.dir);
  if (storage.kind === 'embedded') {
    const parent = path.dirname(ts.dir);
    const beside = fs.readdirSync(parent).filter((n) => n.includes(token));
    const under = (fs.readdirSync(ts.dir, { recursive: true }) as string[]).filter((n) => n.includes(token));
    return [...beside.map((n) => path.join(parent, n)), ...under];
  }
  // The whole bucket, not just this server's prefix: a key that escaped it is the thing to find.
  const target = parseS3Url(storage.overrides.blobUrl as string);
  const s3 = testS3Client(target);
  const found: string[] = [];
  let continuation: string | undefined;
  let listed = 0;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: target.bucket, ContinuationToken: continuation }),
    );
    for (const o of page.Contents ?? []) {
      listed++;
      if (o.Key?.includes(token)) found.push(o.Key);
    }
    continuation = page.NextContinuationToken;
  } while (continuation);
  s3.destroy();
  expect(listed).toBeGreaterThan(0); // the listing saw the store (this server's upload at least)
  return found;
}

const tusHeaders = (form: { headers: Record<string, string> }, extra: Record<string, string>) => ({
  ...form.headers,
  'tus-resumable': '1.0.0',
  ...extra,
});

describe('attacks', () => {
  let ts: TestServer;
  let c: TestClient;
  beforeAll(async () => {
    ts = await startTestServer({ verification: { perAddress: { limit: 10, windowMs: 3_600_000 } } });
    c = TestClient.forServer(ts);
    await c.register(ts.sender);
    await c.fetchCredentials([0]);
    await c.setKey(1);
    await c.setKey(2);
  });
  afterAll(async () => {
    await ts.close();
  });

  it('path traversal and odd characters in keys and ids are refused without touching the store', async () => {
    // Every traversal names this canary; afterwards no file or object key may contain it.
    const canary = `canary-${randomBytes(6).toString('hex')}`;
    const ra = (await c.signed('GET', '/v1/archives/auth/read')).body;
    for (const p of ['..%2F..%2Fetc%2Fpasswd', '..', '%2e%2e', 'a%00b', '..%5C..%5Cx']) {
      const r = await c.json({ method: 'GET', url: `/v1/cdn/media/${p}/${p}`, headers: ra.headers });
      expect([400, 401, 404]).toContain(r.status);
      expect(r.body.error.code).toMatch(/^COFFER_ERR_/);
      const b = await c.json({
        method: 'GET',
        url: `/v1/cdn/backups/${p}/messageBackup`,
        headers: ra.headers,
      });
      expect([400, 401, 404]).toContain(b.status);
    }
    for (const mediaId of [
      `../../../../tmp/${canary}`,
      `..%2F..%2F${canary}`,
      'A'.repeat(19) + '/',
      '....................',
    ]) {
      const r = await c.signed(
        'PUT',
        '/v1/archives/media',
        { sourceUploadId: 'x', objectLength: 1, mediaId },
        { type: 2 },
      );
      expect(r.status).toBe(mediaId === '....................' ? 400 : 400);
      expect(['COFFER_ERR_BAD_REQUEST', 'COFFER_ERR_INVALID_KEY']).toContain(r.body.error.code);
    }
    for (const sourceUploadId of [`../${canary}`, '../../coffer.db', `../../../${canary}`]) {
      const r = await c.signed(
        'PUT',
        '/v1/archives/media',
        { sourceUploadId, objectLength: 1, mediaId: 'A'.repeat(20) },
        { type: 2 },
      );
      expect(r.body.error.code).toBe('COFFER_ERR_BAD_REQUEST');
    }
    for (const v of ['..', `../${canary}`, 'a/b']) {
      const r = await c.signed('POST', `/v1/archives/versions/${encodeURIComponent(v)}/restore`);
      expect(['COFFER_ERR_BAD_REQUEST', 'COFFER_ERR_VERSION_NOT_FOUND', 'COFFER_ERR_NOT_FOUND']).toContain(
        r.body.error.code,
      );
    }
    // tus upload ids from the URL are checked against the token before the store sees them
    const form = (await c.signed('GET', '/v1/archives/upload/form?uploadLength=10')).body;
    // One real upload first, so that the store holds something and the scan below has a baseline.
    const real = await c.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: tusHeaders(form, { 'upload-length': '10' }),
    });
    expect(real.statusCode).toBe(201);
    for (const id of ['..%2F..%2Fcoffer.db', '..', 'x', `..%2F..%2F${canary}`]) {
      for (const method of ['HEAD', 'PATCH'] as const) {
        const r = await c.inject({
          method,
          url: `/v1/uploads/${id}`,
          headers: tusHeaders(form, {
            'upload-offset': '0',
            'content-type': 'application/offset+octet-stream',
          }),
          ...(method === 'PATCH' ? { payload: Buffer.from(canary) } : {}),
        });
        expect([401, 404]).toContain(r.statusCode);
      }
    }
    expect(await storedNamesContaining(ts, canary)).toEqual([]);
    // The server still works after all that.
    expect((await c.signed('GET', '/v1/archives')).status).toBe(200);
  });

  it('an upload token creates one upload, no longer than its length, and only its own', async () => {
    const form = (await c.signed('GET', '/v1/archives/upload/form?uploadLength=100')).body;
    // longer than the token allows
    const tooLong = await c.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: tusHeaders(form, { 'upload-length': '101' }),
    });
    expect(tooLong.statusCode).toBe(413);
    const created = await c.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: tusHeaders(form, { 'upload-length': '100' }),
    });
    expect(created.statusCode).toBe(201);
    const loc = created.headers.location as string;
    // bytes beyond the declared length
    const over = await c.inject({
      method: 'PATCH',
      url: loc,
      headers: tusHeaders(form, { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }),
      payload: randomBytes(150),
    });
    expect(over.statusCode).toBeGreaterThanOrEqual(400);
    // the same token cannot create a second upload
    const again = await c.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: tusHeaders(form, { 'upload-length': '50' }),
    });
    expect(JSON.parse(again.body).error.code).toBe('COFFER_ERR_UPLOAD_TOKEN_USED');
    // a token for one upload cannot write another
    const form2 = (await c.signed('GET', '/v1/archives/upload/form?uploadLength=100')).body;
    const c2 = await c.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: tusHeaders(form2, { 'upload-length': '100' }),
    });
    const cross = await c.inject({
      method: 'PATCH',
      url: c2.headers.location as string,
      headers: tusHeaders(form, { 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }),
      payload: randomBytes(100),
    });
    expect(cross.statusCode).toBe(401);
    expect(JSON.parse(cross.body).error.code).toBe('COFFER_ERR_UPLOAD_TOKEN_INVALID');
    // a forged token
    const forged = form.headers.Authorization.replace(/.$/, (ch: string) => (ch === 'A' ? 'B' : 'A'));
    const f = await c.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: { authorization: forged, 'tus-resumable': '1.0.0', 'upload-length': '10' },
    });
    expect(f.statusCode).toBe(401);
    // nothing became current
    expect((await c.signed('GET', '/v1/archives')).body.current).toBeNull();
  });

  it('a credential made for one backup id does not work for another backup id', async () => {
    const other = TestClient.forServer(ts);
    await other.register(ts.sender);
    await other.fetchCredentials([0]);
    await other.setKey(1);
    // other's credential names other's backup id; signing with c's key fails for that id,
    expect(
      (await c.signed('GET', '/v1/archives', undefined, { credential: other.credential(1) })).body.error.code,
    ).toBe('COFFER_ERR_SIGNATURE_INVALID');
    // and editing the backup id inside the credential breaks the credential.
    const edited = other.credential(1).slice();
    edited.set(c.backupId(1), 12);
    expect((await c.signed('GET', '/v1/archives', undefined, { credential: edited })).body.error.code).toBe(
      'COFFER_ERR_CREDENTIAL_INVALID',
    );
    // a key registration for an id cannot be taken over by another key
    const r = await other.signed(
      'PUT',
      '/v1/archives/keys',
      { backupIdPublicKey: toBase64Url(c.keyPair(1).publicKey) },
      { privateKey: c.keyPair(1).privateKey },
    );
    expect(r.body.error.code).toBe('COFFER_ERR_BACKUP_KEY_CONFLICT');
  });

  it('a flood of session requests from one address is rate-limited', async () => {
    const results = [];
    for (let i = 0; i < 30; i++) {
      results.push(
        await c.json({
          method: 'POST',
          url: '/v1/verification/sessions',
          payload: { identifier: `flood${i}@example.org` },
        }),
      );
    }
    const ok = results.filter((r) => r.status === 200).length;
    const limited = results.filter((r) => r.body?.error?.code === 'COFFER_ERR_RATE_LIMITED').length;
    // 10 per hour per address in this config (register() above used some of them)
    expect(ok).toBeLessThanOrEqual(10);
    expect(ok + limited).toBe(30);
    expect(limited).toBeGreaterThanOrEqual(20);
  });

  it('oversize and malformed bodies are refused with codes', async () => {
    const big = JSON.stringify({
      mediaToDelete: Array.from({ length: 5000 }, () => ({ mediaId: 'A'.repeat(20) })),
    });
    const r = await c.json({
      method: 'POST',
      url: '/v1/archives/media/delete',
      headers: { 'content-type': 'application/json' },
      payload: big,
    });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('COFFER_ERR_BODY_TOO_LARGE');
    const bad = await c.json({
      method: 'POST',
      url: '/v1/accounts',
      headers: { 'content-type': 'application/json' },
      payload: '{"sessionId": ',
    });
    expect(bad.body.error.code).toBe('COFFER_ERR_BAD_REQUEST');
  });
});
