import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.ts';
import { socketClient, tusUpload } from './socket-helpers.ts';

const MARKER = 'PLAINTEXT-MARKER-socket-cycle';

describe('full cycle over a real socket with tus-js-client', () => {
  let ts: TestServer;
  let base: string;
  beforeAll(async () => {
    ts = await startTestServer({ host: '127.0.0.1', port: 0 });
    base = await ts.server.listen();
  });
  afterAll(async () => {
    await ts.close();
  });

  it('verify, register, credentials, set key, upload (with resume), download (ranges), versions, media, delete all', async () => {
    const c = socketClient(base, () => ts.clock.t);
    await c.register(ts.sender);
    expect((await c.fetchCredentials()).status).toBe(200);
    expect((await c.setKey(1)).status).toBe(204);

    const read = async () => {
      const ra = await c.signed('GET', '/v1/archives/auth/read');
      expect(ra.status).toBe(200);
      return ra.body as { headers: Record<string, string>; backupUrl: string; mediaUrlPrefix: string };
    };
    const upload = async (data: Buffer, resume = false) => {
      const form = await c.signed('GET', `/v1/archives/upload/form?uploadLength=${data.length}`);
      expect(form.status).toBe(200);
      if (!resume) return tusUpload(form.body, data);
      // Drop the connection after the first chunks, then resume from the server's offset.
      const first = await tusUpload(form.body, data, { chunkSize: 64 * 1024, stopAfter: 128 * 1024 });
      expect(first.stopped).toBe(true);
      return tusUpload(form.body, data, { chunkSize: 64 * 1024, uploadUrl: first.url as string });
    };

    const v1 = Buffer.concat([Buffer.from(MARKER), randomBytes(400 * 1024)]);
    await upload(v1, true);
    let r = await read();
    let dl = await fetch(r.backupUrl, { headers: r.headers });
    expect(dl.status).toBe(200);
    expect(Buffer.from(await dl.arrayBuffer()).equals(v1)).toBe(true);
    const part = await fetch(r.backupUrl, { headers: { ...r.headers, range: 'bytes=10-19' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 10-19/${v1.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(v1.subarray(10, 20))).toBe(true);
    const bad = await fetch(r.backupUrl, { headers: { ...r.headers, range: `bytes=${v1.length}-` } });
    expect(bad.status).toBe(416);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe(
      'COFFER_ERR_RANGE_NOT_SATISFIABLE',
    );

    // rotate versions: 4 more uploads, 3 kept, restore an older one
    const versions: Buffer[] = [v1];
    for (let i = 0; i < 3; i++) {
      const v = randomBytes(1000 + i);
      versions.push(v);
      await upload(v);
    }
    const list = await c.signed('GET', '/v1/archives/versions');
    expect(list.body.versions).toHaveLength(3);
    expect(list.body.versions[0].current).toBe(true);
    expect(list.body.versions[0].size).toBe(1002);
    const older = list.body.versions[2];
    expect((await c.signed('POST', `/v1/archives/versions/${older.versionId}/restore`)).status).toBe(204);
    r = await read();
    dl = await fetch(r.backupUrl, { headers: r.headers });
    expect(Buffer.from(await dl.arrayBuffer()).equals(versions[1] as Buffer)).toBe(true);

    // media tier (media backup id, media credentials)
    expect((await c.setKey(2)).status).toBe(204);
    const media = randomBytes(3000);
    const mform = await c.signed(
      'GET',
      `/v1/archives/media/upload/form?uploadLength=${media.length}`,
      undefined,
      { type: 2 },
    );
    expect(mform.status).toBe(200);
    await tusUpload(mform.body, media);
    const mediaId = randomBytes(15).toString('base64url');
    const stored = await c.signed(
      'PUT',
      '/v1/archives/media',
      { sourceUploadId: mform.body.uploadId, objectLength: media.length, mediaId },
      { type: 2 },
    );
    expect(stored.status).toBe(200);
    const listed = await c.signed('GET', '/v1/archives/media?limit=10', undefined, { type: 2 });
    expect(listed.body.storedMediaObjects).toEqual([{ mediaId, objectLength: media.length }]);
    const usage = await c.signed('GET', '/v1/archives/media/usage', undefined, { type: 2 });
    expect(usage.body).toMatchObject({ usedBytes: media.length, objectCount: 1 });
    const mr = (await c.signed('GET', '/v1/archives/auth/read', undefined, { type: 2 })).body;
    const mdl = await fetch(mr.mediaUrlPrefix + mediaId, { headers: mr.headers });
    expect(Buffer.from(await mdl.arrayBuffer()).equals(media)).toBe(true);
    expect(
      (await c.signed('POST', '/v1/archives/media/delete', { mediaToDelete: [{ mediaId }] }, { type: 2 }))
        .status,
    ).toBe(204);
    expect(
      (await c.signed('GET', '/v1/archives/media', undefined, { type: 2 })).body.storedMediaObjects,
    ).toEqual([]);

    // delete everything
    expect((await c.signed('DELETE', '/v1/archives')).status).toBe(204);
    const after = await c.signed('GET', '/v1/archives');
    expect(after.body.current).toBeNull();
    r = await read();
    expect((await fetch(r.backupUrl, { headers: r.headers })).status).toBe(404);
  });
});
