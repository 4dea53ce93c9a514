// biome-ignore-all lint/suspicious/noExplicitAny: tests read arbitrary JSON responses
// PUT /v1/archives/media/batch: many store steps in one signed request. Runs on every storage
// configuration; the file store's uncopied commit is tested in file-commit-link.test.ts.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, TestClient, type TestServer } from './helpers.ts';

const newMediaId = () => randomBytes(15).toString('base64url');

describe('PUT /v1/archives/media/batch', () => {
  let ts: TestServer;
  let c: TestClient;
  const m = (method: string, url: string, body?: unknown) => c.signed(method, url, body, { type: 2 });

  /** Form + tus creation-with-upload (the whole object in the POST). */
  async function upload(data: Buffer): Promise<string> {
    const form = await m('GET', `/v1/archives/media/upload/form?uploadLength=${data.length}`);
    expect(form.status).toBe(200);
    const r = await c.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: {
        ...form.body.headers,
        'tus-resumable': '1.0.0',
        'upload-length': String(data.length),
        'content-type': 'application/offset+octet-stream',
      },
      payload: data,
    });
    expect(r.statusCode).toBe(201);
    return form.body.uploadId as string;
  }

  async function download(mediaId: string) {
    const ra = await m('GET', '/v1/archives/auth/read');
    return c.inject({
      method: 'GET',
      url: new URL(ra.body.mediaUrlPrefix).pathname + mediaId,
      headers: ra.body.headers,
    });
  }

  beforeAll(async () => {
    ts = await startTestServer({ levels: { free: { mediaBytes: 20_000, mediaTtlDays: 45 } } });
    c = TestClient.forServer(ts);
    await c.register(ts.sender);
    await c.fetchCredentials([0]);
    expect((await c.setKey(2)).status).toBe(204);
  });
  afterAll(async () => {
    await ts.close();
  });

  it('stores every valid item in one request and answers each item in order', async () => {
    const datas = [randomBytes(1000), randomBytes(1500), randomBytes(700)];
    const ids = [newMediaId(), newMediaId(), newMediaId()];
    const uploads = [];
    for (const d of datas) uploads.push(await upload(d));
    const wrongLength = await upload(randomBytes(300));
    const badId = await upload(randomBytes(200));
    const r = await m('PUT', '/v1/archives/media/batch', {
      items: [
        { sourceUploadId: uploads[0], objectLength: 1000, mediaId: ids[0] },
        { sourceUploadId: 'nosuchupload', objectLength: 10, mediaId: newMediaId() },
        { sourceUploadId: uploads[1], objectLength: 1500, mediaId: ids[1] },
        { sourceUploadId: wrongLength, objectLength: 301, mediaId: newMediaId() },
        { sourceUploadId: badId, objectLength: 200, mediaId: 'short' },
        { sourceUploadId: uploads[2], objectLength: 700, mediaId: ids[2] },
        // the same upload twice in one batch: the second is refused
        { sourceUploadId: uploads[2], objectLength: 700, mediaId: newMediaId() },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.body.responses.map((x: any) => [x.status, x.error?.code])).toEqual([
      [200, undefined],
      [410, 'COFFER_ERR_SOURCE_GONE'],
      [200, undefined],
      [400, 'COFFER_ERR_SOURCE_LENGTH'],
      [400, 'COFFER_ERR_INVALID_KEY'],
      [200, undefined],
      [410, 'COFFER_ERR_SOURCE_GONE'],
    ]);
    expect(r.body.responses[0]).toEqual({ mediaId: ids[0], status: 200, objectLength: 1000 });
    for (const [i, id] of ids.entries()) {
      const d = await download(id);
      expect(d.statusCode).toBe(200);
      expect(Buffer.compare(d.rawPayload, datas[i] as Buffer)).toBe(0);
    }
    expect((await m('GET', '/v1/archives/media/usage')).body).toMatchObject({
      usedBytes: 3200,
      objectCount: 3,
    });
    // stored uploads are consumed: the same source again is gone
    const again = await m('PUT', '/v1/archives/media/batch', {
      items: [{ sourceUploadId: uploads[0], objectLength: 1000, mediaId: newMediaId() }],
    });
    expect(again.body.responses[0].error.code).toBe('COFFER_ERR_SOURCE_GONE');
    // the refused uploads are still there and can be stored once corrected
    const fixed = await m('PUT', '/v1/archives/media/batch', {
      items: [{ sourceUploadId: badId, objectLength: 200, mediaId: newMediaId() }],
    });
    expect(fixed.body.responses[0].status).toBe(200);
  });

  it('applies the quota in request order and replaces an existing media id', async () => {
    const used = (await m('GET', '/v1/archives/media/usage')).body.usedBytes as number;
    const room = 20_000 - used;
    const a = await upload(randomBytes(room - 1000));
    const b = await upload(randomBytes(2000));
    const small = await upload(randomBytes(1000));
    const r = await m('PUT', '/v1/archives/media/batch', {
      items: [
        { sourceUploadId: a, objectLength: room - 1000, mediaId: newMediaId() },
        { sourceUploadId: b, objectLength: 2000, mediaId: newMediaId() },
        { sourceUploadId: small, objectLength: 1000, mediaId: newMediaId() },
      ],
    });
    expect(r.body.responses.map((x: any) => x.status)).toEqual([200, 413, 200]);
    expect(r.body.responses[1].error.code).toBe('COFFER_ERR_QUOTA_EXCEEDED');
    expect((await m('GET', '/v1/archives/media/usage')).body.usedBytes).toBe(20_000);
    // Storing a smaller object under an existing id frees the difference (the quota check counts it).
    const id = r.body.responses[2].mediaId as string;
    const smaller = randomBytes(400);
    const s = await m('PUT', '/v1/archives/media/batch', {
      items: [{ sourceUploadId: await upload(smaller), objectLength: 400, mediaId: id }],
    });
    expect(s.body.responses[0].status).toBe(200);
    expect((await m('GET', '/v1/archives/media/usage')).body.usedBytes).toBe(19_400);
    const d = await download(id);
    expect(Buffer.compare(d.rawPayload, smaller)).toBe(0);
  });

  it('refuses an empty batch, more than 1,000 items and a messages credential', async () => {
    expect((await m('PUT', '/v1/archives/media/batch', { items: [] })).body.error.code).toBe(
      'COFFER_ERR_BAD_REQUEST',
    );
    // 1,000 items with the longest ids fit the body limit (each answered on its own)...
    const many = Array.from({ length: 1001 }, () => ({
      sourceUploadId: randomBytes(48).toString('base64url'),
      objectLength: 1_000_000_000_000,
      mediaId: newMediaId(),
    }));
    const full = await m('PUT', '/v1/archives/media/batch', { items: many.slice(0, 1000) });
    expect(full.status).toBe(200);
    expect(full.body.responses).toHaveLength(1000);
    expect(new Set(full.body.responses.map((x: any) => x.error.code))).toEqual(
      new Set(['COFFER_ERR_SOURCE_GONE']),
    );
    // ...1,001 do not pass the schema
    expect((await m('PUT', '/v1/archives/media/batch', { items: many })).body.error.code).toBe(
      'COFFER_ERR_BAD_REQUEST',
    );
    await c.fetchCredentials([0], c.level, [1]);
    const wrong = await c.signed(
      'PUT',
      '/v1/archives/media/batch',
      { items: [{ sourceUploadId: 'x', objectLength: 1, mediaId: newMediaId() }] },
      { type: 1 },
    );
    expect(wrong.body.error.code).toBe('COFFER_ERR_CREDENTIAL_TYPE');
  });
});
