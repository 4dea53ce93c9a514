// A storage failure during the commit of a finished upload: the client gets an error, the previous
// backup stays current, and the resuming HEAD commits the upload before reporting it complete.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, TestClient, type TestServer } from './helpers.ts';

describe('commit after a failed commit', () => {
  let ts: TestServer;
  let c: TestClient;
  beforeAll(async () => {
    ts = await startTestServer();
    c = TestClient.forServer(ts);
    await c.register(ts.sender);
    await c.fetchCredentials([0]);
    await c.setKey(1);
  });
  afterAll(async () => {
    await ts.close();
  });

  const upload = async (data: Buffer) => {
    const form = (await c.signed('GET', `/v1/archives/upload/form?uploadLength=${data.length}`)).body;
    const headers = { ...form.headers, 'tus-resumable': '1.0.0' };
    const created = await c.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: { ...headers, 'upload-length': String(data.length) },
    });
    expect(created.statusCode).toBe(201);
    const patch = await c.inject({
      method: 'PATCH',
      url: created.headers.location as string,
      headers: { ...headers, 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      payload: data,
    });
    return { form, headers, location: created.headers.location as string, patch };
  };

  it('keeps the previous version and commits on the resuming HEAD', async () => {
    const v1 = randomBytes(1000);
    expect((await upload(v1)).patch.statusCode).toBe(204);
    const before = (await c.signed('GET', '/v1/archives')).body.current;
    expect(before.size).toBe(1000);

    // the blob store fails once (e.g. a full disk or an unreachable bucket)
    const blobs = ts.server.ctx.blobs;
    const put = blobs.put.bind(blobs);
    let failures = 0;
    blobs.put = async (...args) => {
      if (failures++ === 0) throw new Error('disk full');
      return put(...args);
    };
    // The file store adopts a finished upload without copying (putFile): it fails the same way.
    const putFile = blobs.putFile?.bind(blobs);
    if (putFile) {
      blobs.putFile = async (...args) => {
        if (failures++ === 0) throw new Error('disk full');
        return putFile(...args);
      };
    }
    const v2 = randomBytes(2000);
    const r = await upload(v2);
    expect(r.patch.statusCode).toBe(500);
    expect(JSON.parse(r.patch.body).error.code).toBe('COFFER_ERR_INTERNAL');
    expect((await c.signed('GET', '/v1/archives')).body.current).toEqual(before);

    const head = await c.inject({ method: 'HEAD', url: r.location, headers: r.headers });
    expect(head.statusCode).toBe(200);
    expect(head.headers['upload-offset']).toBe('2000');
    const after = (await c.signed('GET', '/v1/archives')).body.current;
    expect(after.size).toBe(2000);
    const ra = (await c.signed('GET', '/v1/archives/auth/read')).body;
    const dl = await c.inject({ method: 'GET', url: new URL(ra.backupUrl).pathname, headers: ra.headers });
    expect(dl.rawPayload.equals(v2)).toBe(true);
    blobs.put = put;
  });
});
