// Privacy: after a full cycle (sealed backup + media over a real socket), the metadata database and
// the blob files hold no account identifier next to a backup id, no raw backup id, no identifier,
// no verification code, and no plaintext marker; the logs hold none of them either.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { deriveMessageBackupKey, sealBackupToBytes, toHex } from '@coffer/crypto';
import SqliteDatabase from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { startTestServer } from './helpers.ts';
import { socketClient, tusUpload } from './socket-helpers.ts';

function allFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? allFiles(p) : [p];
  });
}

describe('privacy', () => {
  it('stores no account identifier next to a backup id and no plaintext', async () => {
    const logs: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logs.push(String(chunk));
        cb();
      },
    });
    const ts = await startTestServer(
      { host: '127.0.0.1', port: 0, logLevel: 'debug' },
      { logger: { stream: sink } },
    );
    const identifier = `privacy-${randomBytes(3).toString('hex')}@example.org`;
    let c: ReturnType<typeof socketClient>;
    const markers = ['MARKER-chat-with-alice-7f3a', 'MARKER-secret-message-91bd'];
    let code = '';
    try {
      const base = await ts.server.listen();
      c = socketClient(base, () => ts.clock.t, identifier);
      await c.register(ts.sender);
      code = ts.sender.outbox.get(identifier)?.at(-1)?.code as string;
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
      const media = randomBytes(2048);
      const mf = await c.signed(
        'GET',
        `/v1/archives/media/upload/form?uploadLength=${media.length}`,
        undefined,
        { type: 2 },
      );
      await tusUpload(mf.body, media);
      const mediaId = randomBytes(15).toString('base64url');
      expect(
        (
          await c.signed(
            'PUT',
            '/v1/archives/media',
            { sourceUploadId: mf.body.uploadId, objectLength: media.length, mediaId },
            { type: 2 },
          )
        ).status,
      ).toBe(200);
    } finally {
      await ts.server.close();
    }
    const client = c!;
    try {
      // 1. No table row carries both an account id and a backup id (hash).
      const db = new SqliteDatabase(path.join(ts.dir, 'coffer.db'), { readonly: true });
      const tables = (
        db.prepare("select name from sqlite_master where type='table'").all() as { name: string }[]
      ).map((t) => t.name);
      const backupHashes = (
        db.prepare('select backup_id_hash from backups').all() as { backup_id_hash: string }[]
      ).map((r) => r.backup_id_hash);
      expect(backupHashes).toHaveLength(2);
      for (const t of tables) {
        for (const row of db.prepare(`select * from "${t}"`).all() as Record<string, unknown>[]) {
          const text = JSON.stringify(row);
          const hasAci = text.includes(client.aci);
          const hasBackup = backupHashes.some((h) => text.includes(h));
          expect({ table: t, both: hasAci && hasBackup }).toEqual({ table: t, both: false });
        }
      }
      const accountTables = tables.filter((t) =>
        (db.prepare(`select * from "${t}"`).all() as Record<string, unknown>[]).some((r) =>
          JSON.stringify(r).includes(client.aci),
        ),
      );
      expect(accountTables.sort()).toEqual(['accounts', 'credential_issuance', 'devices']);
      db.close();

      // 2. Raw bytes of every stored file: no identifier, code, raw backup id, ACI in blobs, or marker.
      const rawIds = [client.backupId(1), client.backupId(2)].flatMap((b) => [
        toHex(b),
        Buffer.from(b).toString('base64url'),
      ]);
      const forbiddenEverywhere = [identifier, ...markers, ...rawIds];
      const files = allFiles(ts.dir);
      expect(files.some((f) => f.includes(`${path.sep}blobs${path.sep}`))).toBe(true);
      for (const f of files) {
        const bytes = fs.readFileSync(f);
        for (const s of forbiddenEverywhere)
          expect({ f, s, found: bytes.includes(Buffer.from(s)) }).toEqual({ f, s, found: false });
        for (const raw of [client.backupId(1), client.backupId(2)]) {
          expect({ f, rawId: bytes.includes(Buffer.from(raw)) }).toEqual({ f, rawId: false });
        }
        if (!f.endsWith('coffer.db') && !f.includes('coffer.db-')) {
          expect({ f, aci: bytes.includes(Buffer.from(client.aci)) }).toEqual({ f, aci: false });
        }
      }

      // 3. Logs: no identifier, code, ACI, device token, backup dir or marker.
      const all = logs.join('');
      expect(all.length).toBeGreaterThan(0);
      for (const s of [identifier, client.aci, client.deviceToken, ...markers])
        expect(all.includes(s)).toBe(false);
      expect(all).not.toMatch(new RegExp(`"${code}"`));
    } finally {
      fs.rmSync(ts.dir, { recursive: true, force: true });
    }
  });
});
