// biome-ignore-all lint/suspicious/noExplicitAny: tests read arbitrary JSON responses
// PUT /v1/archives/media/batch (many store steps in one signed request) and the uncopied move of a
// finished tus file into the file blob store (hard link + fsync + rename; the upload file stays until
// the metadata transaction has committed).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBlobStore } from '../src/storage/file-blob-store.ts';
import { startTestServer, TestClient, type TestServer } from './helpers.ts';

const embedded = (process.env.COFFER_TEST_STORAGE ?? 'embedded') === 'embedded';
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

  it.runIf(embedded)('moves the finished tus file into the blob store without a second copy', async () => {
    const data = randomBytes(5000);
    const id = await upload(data);
    const tusFile = path.join(ts.server.ctx.config.tusDir, id);
    const inode = fs.statSync(tusFile).ino;
    const mediaId = newMediaId();
    const used = (await m('GET', '/v1/archives/media/usage')).body.usedBytes as number;
    // make room under the quota first
    const list = await m('GET', '/v1/archives/media');
    await m('POST', '/v1/archives/media/delete', {
      mediaToDelete: list.body.storedMediaObjects.map((o: any) => ({ mediaId: o.mediaId })),
    });
    expect((await m('GET', '/v1/archives/media/usage')).body.usedBytes).toBeLessThan(used);
    const r = await m('PUT', '/v1/archives/media', { sourceUploadId: id, objectLength: 5000, mediaId });
    expect(r.status).toBe(200);
    const blob = path.join(ts.dir, 'blobs', 'o', 'media', list.body.mediaDir, mediaId);
    const st = fs.statSync(blob);
    // the same inode as the upload (no copy), and the upload's own name is gone (one link left)
    expect(st.ino).toBe(inode);
    expect(st.nlink).toBe(1);
    expect(fs.existsSync(tusFile)).toBe(false);
    expect(Buffer.compare(fs.readFileSync(blob), data)).toBe(0);
  });
});

describe.runIf(embedded)('messages commit without a second copy', () => {
  it('the committed version is the finished tus file itself (same inode), the upload name removed', async () => {
    const ts = await startTestServer();
    try {
      const c = TestClient.forServer(ts);
      await c.register(ts.sender);
      await c.fetchCredentials([0]);
      await c.setKey(1);
      const data = randomBytes(4000);
      const form = (await c.signed('GET', `/v1/archives/upload/form?uploadLength=${data.length}`)).body;
      const headers = { ...form.headers, 'tus-resumable': '1.0.0' };
      const created = await c.inject({
        method: 'POST',
        url: '/v1/uploads',
        headers: { ...headers, 'upload-length': '4000', 'content-type': 'application/offset+octet-stream' },
        payload: data.subarray(0, 1000),
      });
      expect(created.statusCode).toBe(201);
      const tusFile = path.join(ts.server.ctx.config.tusDir, form.uploadId);
      const inode = fs.statSync(tusFile).ino;
      const patch = await c.inject({
        method: 'PATCH',
        url: created.headers.location as string,
        headers: { ...headers, 'upload-offset': '1000', 'content-type': 'application/offset+octet-stream' },
        payload: data.subarray(1000),
      });
      expect(patch.statusCode).toBe(204);
      const info = (await c.signed('GET', '/v1/archives')).body;
      const blob = path.join(ts.dir, 'blobs', 'o', 'backups', info.backupDir, info.current.versionId);
      expect(fs.statSync(blob).ino).toBe(inode);
      expect(fs.statSync(blob).nlink).toBe(1);
      expect(fs.existsSync(tusFile)).toBe(false);
      expect(Buffer.compare(fs.readFileSync(blob), data)).toBe(0);
    } finally {
      await ts.close();
    }
  });
});

describe('FileBlobStore.putFile', () => {
  let dir: string;
  let store: FileBlobStore;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-putfile-'));
    store = new FileBlobStore(path.join(dir, 'blobs'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('links the file under the key, leaves the source in place, and checks the length', async () => {
    const src = path.join(dir, 'upload');
    const data = randomBytes(3000);
    fs.writeFileSync(src, data);
    expect(await store.putFile('media/d/x', src, { length: 3000 })).toEqual({ size: 3000 });
    expect(fs.existsSync(src)).toBe(true);
    const got = await store.get('media/d/x');
    const chunks: Buffer[] = [];
    for await (const ch of got.body) chunks.push(Buffer.from(ch));
    expect(Buffer.compare(Buffer.concat(chunks), data)).toBe(0);

    await expect(store.putFile('media/d/y', src, { length: 2999 })).rejects.toMatchObject({
      code: 'COFFER_ERR_SOURCE_LENGTH',
    });
    expect(await store.stat('media/d/y')).toBeUndefined();
    // nothing left behind in the temp folder
    expect(fs.readdirSync(path.join(dir, 'blobs', '.tmp'))).toEqual([]);
  });

  // /dev/shm is a tmpfs on Linux: another filesystem than the temp folder, where link() fails (EXDEV).
  const otherFs = fs.existsSync('/dev/shm') && fs.statSync('/dev/shm').dev !== fs.statSync(os.tmpdir()).dev;
  it.runIf(otherFs)(
    'answers undefined across filesystems, and a server there still stores by copying',
    async () => {
      const shm = fs.mkdtempSync('/dev/shm/coffer-putfile-');
      try {
        const far = new FileBlobStore(path.join(shm, 'blobs'));
        const src = path.join(dir, 'upload-far');
        fs.writeFileSync(src, randomBytes(100));
        expect(await far.putFile('media/d/x', src, { length: 100 })).toBeUndefined();
        expect(await far.stat('media/d/x')).toBeUndefined();
        // a whole server with its blobs on the other filesystem: the store step falls back to a copy
        const ts = await startTestServer({ blobUrl: `file:${path.join(shm, 'server-blobs')}` });
        try {
          const c = TestClient.forServer(ts);
          await c.register(ts.sender);
          await c.fetchCredentials([0]);
          await c.setKey(2);
          const data = randomBytes(1234);
          const form = await c.signed('GET', '/v1/archives/media/upload/form?uploadLength=1234', undefined, {
            type: 2,
          });
          const up = await c.inject({
            method: 'POST',
            url: '/v1/uploads',
            headers: {
              ...form.body.headers,
              'tus-resumable': '1.0.0',
              'upload-length': '1234',
              'content-type': 'application/offset+octet-stream',
            },
            payload: data,
          });
          expect(up.statusCode).toBe(201);
          const mediaId = newMediaId();
          const r = await c.signed(
            'PUT',
            '/v1/archives/media/batch',
            { items: [{ sourceUploadId: form.body.uploadId, objectLength: 1234, mediaId }] },
            { type: 2 },
          );
          expect(r.body.responses[0].status).toBe(200);
          const blob = path.join(
            shm,
            'server-blobs',
            'o',
            'media',
            (await c.signed('GET', '/v1/archives/media', undefined, { type: 2 })).body.mediaDir,
            mediaId,
          );
          expect(Buffer.compare(fs.readFileSync(blob), data)).toBe(0);
        } finally {
          await ts.close();
        }
      } finally {
        fs.rmSync(shm, { recursive: true, force: true });
      }
    },
  );

  it('answers undefined for a file it cannot adopt (the caller then copies)', async () => {
    expect(await store.putFile('media/d/z', path.join(dir, 'missing'))).toBeUndefined();
    await expect(store.putFile('../escape', path.join(dir, 'upload'))).rejects.toMatchObject({
      code: 'COFFER_ERR_INVALID_KEY',
    });
  });
});
