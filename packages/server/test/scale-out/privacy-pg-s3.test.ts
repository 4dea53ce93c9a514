// Privacy on scale-out storage (the PostgreSQL + S3 counterpart of test/privacy.test.ts, which reads
// the embedded files): after a full cycle, no PostgreSQL row holds an account id next to a backup id,
// and no database row or bucket object holds the identifier, a raw backup id, a plaintext marker, the
// ACI (objects) or the S3 secret; nor do the logs.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { deriveMessageBackupKey, sealBackupToBytes, toHex } from '@coffer/crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseS3Url, testS3Client, testStorageFor } from '../../../../test-support/services.ts';
import { parseS3BlobStoreUrl } from '../../src/storage/blob-store-factory.ts';
import { S3BlobStore } from '../../src/storage/s3-blob-store.ts';
import { startTestServer } from '../helpers.ts';
import { socketClient, tusUpload } from '../socket-helpers.ts';

describe('privacy on PostgreSQL + S3', () => {
  it('stores no account identifier next to a backup id and no plaintext, in rows, objects or logs', async () => {
    const before = process.env.COFFER_TEST_STORAGE;
    process.env.COFFER_TEST_STORAGE = 'pg-s3';
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-privacy-pgs3-'));
    const storage = await testStorageFor(dir, 'privacy').finally(() => {
      if (before === undefined) delete process.env.COFFER_TEST_STORAGE;
      else process.env.COFFER_TEST_STORAGE = before;
    });
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logs.push(String(chunk));
        cb();
      },
    });
    const ts = await startTestServer(
      { host: '127.0.0.1', port: 0, logLevel: 'debug' },
      { dir, logger: { stream: sink } },
    );
    const identifier = `privacy-${randomBytes(3).toString('hex')}@example.org`;
    const markers = ['MARKER-chat-with-alice-7f3a', 'MARKER-secret-message-91bd'];
    let c: ReturnType<typeof socketClient> | undefined;
    try {
      const base = await ts.server.listen();
      c = socketClient(base, () => ts.clock.t, identifier);
      await c.register(ts.sender);
      await c.fetchCredentials([0, 1]);
      await c.setKey(1);
      await c.setKey(2);
      const plaintext = new TextEncoder().encode(`${markers.join(' ')} ${'filler '.repeat(1000)}`);
      const sealed = Buffer.from(
        await sealBackupToBytes([plaintext], deriveMessageBackupKey(c.backupKey, c.backupId(1))),
      );
      for (let i = 0; i < 2; i++) {
        const form = await c.signed('GET', `/v1/archives/upload/form?uploadLength=${sealed.length}`);
        await tusUpload(form.body, sealed);
      }
      // An unfinished upload too: its .info and pending part sit in the bucket.
      const partial = randomBytes(10_000); // ciphertext-like: only the server's own data is under test
      const open = await c.signed('GET', `/v1/archives/upload/form?uploadLength=${partial.length}`);
      await tusUpload(open.body, partial, { chunkSize: 2048, stopAfter: 4096 });
      const media = randomBytes(2048);
      const mf = await c.signed(
        'GET',
        `/v1/archives/media/upload/form?uploadLength=${media.length}`,
        undefined,
        {
          type: 2,
        },
      );
      await tusUpload(mf.body, media);
      const mediaId = randomBytes(15).toString('base64url');
      const stored = await c.signed(
        'PUT',
        '/v1/archives/media',
        { sourceUploadId: mf.body.uploadId, objectLength: media.length, mediaId },
        { type: 2 },
      );
      expect(stored.status).toBe(200);
    } finally {
      await ts.server.close();
    }
    const client = c!;
    const rawIds = [client.backupId(1), client.backupId(2)];
    const forbidden = [
      identifier,
      ...markers,
      ...rawIds.flatMap((b) => [toHex(b), Buffer.from(b).toString('base64url')]),
    ];
    try {
      // 1. PostgreSQL: every row of every table in the schema.
      const db = new pg.Client({ connectionString: storage.overrides.databaseUrl });
      await db.connect();
      try {
        const tables = (
          await db.query<{ t: string }>(
            "select table_name as t from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'",
          )
        ).rows.map((r) => r.t);
        expect(tables).toContain('backups');
        const hashes = (await db.query<{ h: string }>('select backup_id_hash as h from backups')).rows.map(
          (r) => r.h,
        );
        expect(hashes).toHaveLength(2);
        const accountTables: string[] = [];
        for (const t of tables) {
          for (const row of (await db.query(`select * from "${t}"`)).rows) {
            const text = JSON.stringify(row);
            const hasAci = text.includes(client.aci);
            if (hasAci && !accountTables.includes(t)) accountTables.push(t);
            expect({ t, both: hasAci && hashes.some((h) => text.includes(h)) }).toEqual({ t, both: false });
            for (const s of forbidden)
              expect({ t, s, found: text.includes(s) }).toEqual({ t, s, found: false });
          }
        }
        expect(accountTables.sort()).toEqual(['accounts', 'credential_issuance', 'devices']);
      } finally {
        await db.end();
      }

      // 2. The bucket: every object under the deployment's prefix, byte by byte.
      const blobUrl = storage.overrides.blobUrl!;
      const store = new S3BlobStore(parseS3BlobStoreUrl(blobUrl));
      const keys: string[] = [];
      for await (const o of store.list('')) keys.push(o.key);
      await store.close();
      expect(keys.some((k) => k.startsWith('backups/'))).toBe(true);
      expect(keys.some((k) => k.startsWith('media/'))).toBe(true);
      expect(
        keys.some((k) => k.startsWith('tus/')),
        keys.join(' '),
      ).toBe(true);
      const target = parseS3Url(blobUrl);
      const s3 = testS3Client(target);
      const prefix = new URL(blobUrl).searchParams.get('prefix') ?? '';
      try {
        for (const k of keys) {
          const obj = await s3.send(new GetObjectCommand({ Bucket: target.bucket, Key: prefix + k }));
          const bytes = Buffer.from(await obj.Body!.transformToByteArray());
          const meta = JSON.stringify(obj.Metadata ?? {});
          for (const s of [...forbidden, client.aci]) {
            expect({ k, s, found: bytes.includes(Buffer.from(s)) || meta.includes(s) }).toEqual({
              k,
              s,
              found: false,
            });
          }
          for (const raw of rawIds)
            expect({ k, rawId: bytes.includes(Buffer.from(raw)) }).toEqual({ k, rawId: false });
          // Keys themselves carry only random directory names and ids.
          for (const s of [client.aci, ...forbidden]) expect(k.includes(s)).toBe(false);
        }
      } finally {
        s3.destroy();
      }

      // 3. Logs: no identifier, ACI, device token, marker, database password or S3 secret.
      const all = logs.join('');
      expect(all.length).toBeGreaterThan(0);
      const secret = target.credentials?.secretAccessKey;
      for (const s of [identifier, client.aci, client.deviceToken, ...markers, ...(secret ? [secret] : [])]) {
        expect(all.includes(s)).toBe(false);
      }
    } finally {
      await storage.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
