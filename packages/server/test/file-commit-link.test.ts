// The file blob store's uncopied commit: a finished tus file is hard-linked into place (link +
// fsync + rename) and the upload name removed only after the metadata transaction. File storage
// only: `.ci/run` leaves this file out of its PostgreSQL + S3 pass (S3 commits stream a copy).
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBlobStore } from '../src/storage/file-blob-store.ts';
import { startTestServer, TestClient } from './helpers.ts';

const newMediaId = () => randomBytes(15).toString('base64url');

describe('media store without a second copy', () => {
  it('moves the finished tus file into the blob store (same inode), the upload name removed', async () => {
    const ts = await startTestServer();
    try {
      const c = TestClient.forServer(ts);
      await c.register(ts.sender);
      await c.fetchCredentials([0]);
      await c.setKey(2);
      const data = randomBytes(5000);
      const form = await c.signed('GET', '/v1/archives/media/upload/form?uploadLength=5000', undefined, {
        type: 2,
      });
      expect(form.status).toBe(200);
      const up = await c.inject({
        method: 'POST',
        url: '/v1/uploads',
        headers: {
          ...form.body.headers,
          'tus-resumable': '1.0.0',
          'upload-length': '5000',
          'content-type': 'application/offset+octet-stream',
        },
        payload: data,
      });
      expect(up.statusCode).toBe(201);
      const tusFile = path.join(ts.server.ctx.config.tusDir, form.body.uploadId);
      const inode = fs.statSync(tusFile).ino;
      const mediaId = newMediaId();
      const r = await c.signed(
        'PUT',
        '/v1/archives/media',
        { sourceUploadId: form.body.uploadId, objectLength: 5000, mediaId },
        { type: 2 },
      );
      expect(r.status).toBe(200);
      const mediaDir = (await c.signed('GET', '/v1/archives/media', undefined, { type: 2 })).body.mediaDir;
      const blob = path.join(ts.dir, 'blobs', 'o', 'media', mediaDir, mediaId);
      const st = fs.statSync(blob);
      expect(st.ino).toBe(inode);
      expect(st.nlink).toBe(1);
      expect(fs.existsSync(tusFile)).toBe(false);
      expect(Buffer.compare(fs.readFileSync(blob), data)).toBe(0);
    } finally {
      await ts.close();
    }
  });
});

describe('messages commit without a second copy', () => {
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
  it('answers undefined across filesystems, and a server there still stores by copying', async () => {
    const otherFs = fs.existsSync('/dev/shm') && fs.statSync('/dev/shm').dev !== fs.statSync(os.tmpdir()).dev;
    expect(otherFs, 'this test needs /dev/shm on another filesystem than the temp folder').toBe(true);
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
  });

  it('answers undefined for a file it cannot adopt (the caller then copies)', async () => {
    expect(await store.putFile('media/d/z', path.join(dir, 'missing'))).toBeUndefined();
    await expect(store.putFile('../escape', path.join(dir, 'upload'))).rejects.toMatchObject({
      code: 'COFFER_ERR_INVALID_KEY',
    });
  });
});
