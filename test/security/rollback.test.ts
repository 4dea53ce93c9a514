// Rollback (issue 7): a server that serves an older version of a backup. The backup's time
// (BackupInfo.backupTimeMs) is inside the MAC-protected plaintext, so the server cannot change it;
// the device that made the newer backup remembers when (status().lastBackup.at), so its restore
// drill (verifyLatestBackup) refuses an older one with COFFER_ERR_BACKUP_ROLLED_BACK. A new device has nothing to compare with: a
// rollback is invisible to it (a known limit, docs/security.md).
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Device, makeDevice, startServer, type TestServer } from '../../packages/client/test/harness.ts';
import { freePortInRange } from '../../test-support/services.ts';

describe('rollback by the server', () => {
  let srv: TestServer;
  let a: Device;
  const identifier = `rollback-${Date.now()}@example.org`;
  let recoveryKey = '';

  beforeAll(async () => {
    srv = await startServer({}, { port: await freePortInRange(29800, 29899) });
    a = await makeDevice(srv.url, {
      generate: { chats: 2, messages: 50, media: 0, seed: 'rollback' },
    });
    await a.client.registerWithDevOutbox(identifier);
    recoveryKey = (await a.client.enableBackups()).recoveryKey;
  }, 120_000);
  afterAll(async () => {
    a?.close();
    await srv?.close();
    if (srv) fs.rmSync(srv.dir, { recursive: true, force: true });
  });

  it('the device that made the newer backup sees that the served one is older; the server cannot hide it', async () => {
    await a.client.backupNow();
    const firstAt = (await a.client.status()).lastBackup?.at as number;
    await new Promise((r) => setTimeout(r, 50));
    await a.client.backupNow();
    const lastAt = (await a.client.status()).lastBackup?.at as number;
    expect(lastAt).toBeGreaterThan(firstAt);
    const honest = await a.client.verifyLatestBackup();
    expect(honest.backupAt).toBe(lastAt);

    // the server makes the older version current again (directly in its metadata)
    const db = srv.server.ctx.db;
    const backups = await db
      .selectFrom('backups')
      .selectAll()
      .where('current_version_id', 'is not', null)
      .execute();
    expect(backups).toHaveLength(1);
    const b = backups[0] as (typeof backups)[number];
    const versionIds = async () =>
      (
        await db
          .selectFrom('backup_versions')
          .select('version_id')
          .where('backup_id_hash', '=', b.backup_id_hash)
          .orderBy('seq', 'asc')
          .execute()
      ).map((v) => v.version_id);
    const serve = (versionId: string) =>
      db
        .updateTable('backups')
        .set({ current_version_id: versionId })
        .where('backup_id_hash', '=', b.backup_id_hash)
        .execute();
    const versions = await versionIds();
    expect(versions.length).toBe(2);
    const first = versions[0] as string;
    await serve(first);

    // the served backup is a real, older backup with a valid MAC, but it carries its own, older
    // time: the drill refuses it with a code and records nothing as verified
    const verifiedBefore = (await a.client.status()).lastVerified;
    await expect(a.client.verifyLatestBackup()).rejects.toMatchObject({
      code: 'COFFER_ERR_BACKUP_ROLLED_BACK',
      details: { servedBackupAt: firstAt, lastBackupAt: lastAt },
    });
    expect((await a.client.status()).lastVerified).toEqual(verifiedBefore);
    // a new backup replaces it, and the drill passes again
    await a.client.backupNow();
    const again = await a.client.verifyLatestBackup();
    expect(again.backupAt).toBe((await a.client.status()).lastBackup?.at);
    expect(again.backupAt).toBeGreaterThan(lastAt);
    // and the server rolls back once more, for the new device below
    expect(await versionIds(), 'the first version is still kept (3 versions by default)').toContain(first);
    await serve(first);

    // a new device restoring now gets the older backup and cannot tell (known limit)
    const fresh = await makeDevice(srv.url);
    try {
      await fresh.client.registerWithDevOutbox(identifier);
      const restored = await fresh.client.restore({ recoveryKey });
      expect(restored.backupAt).toBe(firstAt);
    } finally {
      fresh.close();
    }
  });
});
