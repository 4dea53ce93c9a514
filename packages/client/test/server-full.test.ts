// The SDK names what failed on the server (issue 7): a real server whose blob store and tus folder
// sit on a tiny tmpfs that fills up answers 507 COFFER_ERR_STORAGE_FULL; the client reports
// COFFER_ERR_SERVER_STORAGE_FULL with a message about the server's storage (not "interrupted" or a
// network error), the earlier backup stays restorable, and the next run succeeds once space is freed.
// Needs root (mount); ports 27370-27389.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePortInRange } from '../../../test-support/services.ts';
import { type Device, makeDevice, startServer } from './harness.ts';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('a server whose storage is full', () => {
  it('backupNow fails with COFFER_ERR_SERVER_STORAGE_FULL naming the server storage, then succeeds after space is freed', async () => {
    const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-client-full-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', mnt], { stdio: 'pipe' });
    } catch (err) {
      throw new Error(`this test mounts a 6 MiB tmpfs and needs root: ${(err as Error).message}`);
    }
    cleanups.push(() => {
      execFileSync('umount', ['-l', mnt], { stdio: 'pipe' });
      fs.rmSync(mnt, { recursive: true, force: true });
    });
    const port = await freePortInRange(27370, 27389);
    const srv = await startServer(
      { blobUrl: `file:${path.join(mnt, 'blobs')}`, tusDir: path.join(mnt, 'tus') },
      { port },
    );
    cleanups.push(() => srv.close());
    const a: Device = await makeDevice(srv.url, {
      generate: { chats: 2, messages: 400, media: 0, seed: 'full' },
      uploadRetryDelays: [50],
    });
    cleanups.push(() => a.close());
    await a.client.registerWithDevOutbox(`full-${Date.now()}@example.org`);
    await a.client.enableBackups();
    const first = await a.client.backupNow();

    // Leave less free space than one more backup needs.
    const st = fs.statfsSync(mnt);
    const filler = path.join(mnt, 'filler');
    fs.writeFileSync(filler, Buffer.alloc(Math.max(0, st.bavail * st.bsize - Math.floor(first.bytes / 2))));
    const err = (await a.client.backupNow().then(
      () => undefined,
      (e: unknown) => e,
    )) as { code?: string; message?: string; details?: { serverCode?: string } } | undefined;
    expect(err, 'the backup must fail while the server is full').toBeDefined();
    expect(err?.code).toBe('COFFER_ERR_SERVER_STORAGE_FULL');
    expect(err?.details?.serverCode).toBe('COFFER_ERR_STORAGE_FULL');
    expect(err?.message).toMatch(/server is out of storage space/);
    // the earlier backup is still there and whole
    await a.client.verifyLatestBackup();

    fs.rmSync(filler);
    const again = await a.client.backupNow();
    expect(again.bytes).toBeGreaterThan(0);
    await a.client.verifyLatestBackup();
  });
});
