// Retention job (spec 6.5, Coffer form): idle backups deleted, free-tier media dropped after its TTL
// unless a paid refresh kept it, abandoned uploads and orphaned blobs collected.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { setAccountLevel } from '../src/identity/accounts.ts';
import { startTestServer, TestClient, type TestServer } from './helpers.ts';

const DAY = 86_400_000;

async function storeMedia(c: TestClient, n: number) {
  const data = randomBytes(n);
  const form = (
    await c.signed('GET', `/v1/archives/media/upload/form?uploadLength=${n}`, undefined, { type: 2 })
  ).body;
  const r = await c.inject({
    method: 'POST',
    url: '/v1/uploads',
    headers: {
      ...form.headers,
      'tus-resumable': '1.0.0',
      'upload-length': String(n),
      'content-type': 'application/offset+octet-stream',
    },
    payload: data,
  });
  expect(r.statusCode).toBe(201);
  const mediaId = randomBytes(15).toString('base64url');
  const s = await c.signed(
    'PUT',
    '/v1/archives/media',
    { sourceUploadId: form.uploadId, objectLength: n, mediaId },
    { type: 2 },
  );
  expect(s.status).toBe(200);
  return mediaId;
}

describe('retention job', () => {
  let ts: TestServer;
  afterEach(async () => {
    await ts.close();
  });

  it('deletes idle backups, drops free media past its TTL, keeps paid media, collects uploads and orphans', async () => {
    ts = await startTestServer();
    const free = TestClient.forServer(ts);
    await free.register(ts.sender);
    await free.fetchCredentials([0]);
    await free.setKey(1);
    await free.setKey(2);
    const form = (await free.signed('GET', '/v1/archives/upload/form?uploadLength=10')).body;
    await free.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: {
        ...form.headers,
        'tus-resumable': '1.0.0',
        'upload-length': '10',
        'content-type': 'application/offset+octet-stream',
      },
      payload: randomBytes(10),
    });
    await storeMedia(free, 100);

    const paid = TestClient.forServer(ts);
    await paid.register(ts.sender);
    await setAccountLevel(ts.server.ctx, paid.aci, 201);
    paid.level = 201;
    await paid.fetchCredentials([0]);
    await paid.setKey(2);
    const paidMedia = await storeMedia(paid, 100);

    // an abandoned upload (created, never finished) and an orphaned blob
    const abandoned = (await free.signed('GET', '/v1/archives/upload/form?uploadLength=100')).body;
    await free.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: { ...abandoned.headers, 'tus-resumable': '1.0.0', 'upload-length': '100' },
    });
    await ts.server.ctx.blobs.put('backups/nobody/orphan', randomBytes(5));

    expect(await ts.server.runRetention()).toMatchObject({
      backupsDeleted: 0,
      mediaDropped: 0,
      orphanBlobsDeleted: 0,
    });

    // 46 days later, both refresh (free with a free credential, paid with a paid one)
    ts.clock.t += 46 * DAY;
    await free.fetchCredentials([0]);
    await paid.fetchCredentials([0]);
    expect((await free.signed('POST', '/v1/archives', undefined, { type: 2 })).status).toBe(204);
    expect((await free.signed('POST', '/v1/archives')).status).toBe(204);
    expect((await paid.signed('POST', '/v1/archives', undefined, { type: 2 })).status).toBe(204);
    const r1 = await ts.server.runRetention();
    expect(r1).toMatchObject({
      backupsDeleted: 0,
      mediaDropped: 1,
      uploadsCollected: 1,
      orphanBlobsDeleted: 1,
    });
    expect(
      (await free.signed('GET', '/v1/archives/media', undefined, { type: 2 })).body.storedMediaObjects,
    ).toEqual([]);
    expect(
      (await paid.signed('GET', '/v1/archives/media', undefined, { type: 2 })).body.storedMediaObjects,
    ).toEqual([{ mediaId: paidMedia, objectLength: 100 }]);
    expect(await ts.server.ctx.blobs.stat('backups/nobody/orphan')).toBeUndefined();
    const upload = await ts.server.ctx.db
      .selectFrom('uploads')
      .select('upload_id')
      .where('upload_id', '=', abandoned.uploadId)
      .executeTakeFirst();
    expect(upload).toBeUndefined();

    // 121 idle days later the free messages backup (refreshed on day 46) is deleted with its blobs
    const dir = (await free.signed('GET', '/v1/archives')).body.backupDir as string;
    const blobsBefore: string[] = [];
    for await (const e of ts.server.ctx.blobs.list(`backups/${dir}/`)) blobsBefore.push(e.key);
    expect(blobsBefore).toHaveLength(1);
    ts.clock.t += 121 * DAY;
    const r2 = await ts.server.runRetention();
    expect(r2.backupsDeleted).toBe(3);
    const left: string[] = [];
    for await (const e of ts.server.ctx.blobs.list(`backups/${dir}/`)) left.push(e.key);
    expect(left).toEqual([]);
    await free.fetchCredentials([0]);
    expect((await free.signed('GET', '/v1/archives')).body.error.code).toBe('COFFER_ERR_BACKUP_ID_UNKNOWN');
  });
});
