import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { logPaddedSize } from '@coffer/crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { type Device, makeDevice, startServer } from './harness.ts';
import { startProxy } from './proxy.ts';

const devices: Device[] = [];
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const d of devices) d.close();
  for (const c of cleanups.reverse()) await c();
});
let port = 27500 + (process.pid % 50) * 8;
const history = { chats: 4, messages: 1200, media: 6, seed: 'faults', mediaSize: 2048 };
const id = (name: string) => `${name}-${Math.random().toString(36).slice(2)}@example.org`;

async function device(url: string, generate = true) {
  const d = await makeDevice(url, generate ? { generate: history } : {});
  devices.push(d);
  return d;
}

describe('media: a second backup uploads only what is new', () => {
  it('counts the bytes: only the sealed new files go up', async () => {
    const srv = await startServer({}, { port: port++ });
    cleanups.push(() => srv.close());
    const a = await device(srv.url);
    await a.client.registerWithDevOutbox(id('media'));
    await a.client.enableBackups();
    const first = await a.client.backupNow();
    expect(first.media.uploaded).toBeGreaterThan(6);
    // Two new photos arrive in a chat.
    const before = a.store.listMedia().length;
    const template = [...a.store.messages(1)].find((m) =>
      m.attachments.some((x) => x.role === 'attachment'),
    )!;
    for (const size of [3000, 4000]) {
      const bytes = new Uint8Array(randomBytes(size));
      const hash = new Uint8Array(createHash('sha256').update(bytes).digest());
      await a.store.writeMedia(hash, bytes);
      a.store.appendMessages([
        {
          ...template,
          dateSent: Date.now(),
          dateReceived: Date.now(),
          reactions: [],
          revisions: [],
          attachments: [
            { ...template.attachments[0]!, plaintextHash: hash, key: new Uint8Array(randomBytes(64)), size },
          ],
        },
      ]);
    }
    const newRefs = a.store.listMedia().length - before;
    expect(newRefs).toBe(2);
    const second = await a.client.backupNow();
    // Exactly the two new files (no thumbnails for them), each sealed twice (spec 5.1 + 5.3):
    // inner = 16 + pad16(logPadded(n)) + 32, outer = 16 + pad16(inner) + 32.
    expect(second.media.uploaded).toBe(2);
    const sealed = (n: number) => {
      const inner = 16 + 16 * (Math.floor(logPaddedSize(n) / 16) + 1) + 32;
      return 16 + 16 * (Math.floor(inner / 16) + 1) + 32;
    };
    expect(second.media.bytesUploaded).toBe(sealed(3000) + sealed(4000));
    const usage = await a.client.serverUsage();
    expect(usage.media.objectCount).toBe(first.media.uploaded + second.media.uploaded);
  });
});

describe('faults', () => {
  it('wrong key, corrupted backup and truncated file are refused and leave the device exactly as it was', async () => {
    const srv = await startServer({}, { port: port++ });
    cleanups.push(() => srv.close());
    const ident = id('faults');
    const a = await device(srv.url);
    await a.client.registerWithDevOutbox(ident);
    const { recoveryKey } = await a.client.enableBackups();
    await a.client.backupNow();

    // The new device already has some history of its own.
    const b = await makeDevice(srv.url, { generate: { ...history, seed: 'b-own', messages: 300 } });
    devices.push(b);
    await b.client.registerWithDevOutbox(ident);
    const before = await b.store.digest({ media: true });
    const dbBytes = () => {
      b.store.db.pragma('wal_checkpoint(TRUNCATE)');
      return readFileSync(join(b.store.dir, 'chat.db'));
    };
    const fileBefore = dbBytes();

    const wrong = recoveryKey.slice(0, 10) + (recoveryKey[10] === 'a' ? 'b' : 'a') + recoveryKey.slice(11);
    await expect(b.client.restore({ recoveryKey: wrong })).rejects.toMatchObject({
      code: 'COFFER_ERR_WRONG_RECOVERY_KEY',
    });

    // Damage the stored backup on the server: one flipped byte, then a truncation.
    const blobs = readdirSync(srv.dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.includes('messageBackup') === false)
      .map((e) => join(e.parentPath, e.name))
      .filter((p) => /blobs/.test(p) && /backups?/.test(p) && statSync(p).size > 10_000);
    expect(blobs.length).toBeGreaterThan(0);
    const blob = blobs.sort((x, y) => statSync(y).mtimeMs - statSync(x).mtimeMs)[0]!;
    const original = readFileSync(blob);
    const flipped = Buffer.from(original);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
    writeFileSync(blob, flipped);
    await expect(b.client.restore({ recoveryKey })).rejects.toMatchObject({
      code: expect.stringMatching(/COFFER_ERR_(WRONG_RECOVERY_KEY|BACKUP_CORRUPTED)/),
    });
    writeFileSync(blob, original.subarray(0, original.length - 1000));
    await expect(b.client.restore({ recoveryKey })).rejects.toMatchObject({
      code: expect.stringMatching(/COFFER_ERR_(WRONG_RECOVERY_KEY|BACKUP_CORRUPTED)/),
    });
    expect(await b.store.digest({ media: true })).toBe(before);
    expect(dbBytes().equals(fileBefore)).toBe(true);
    expect((await b.client.status()).enabled).toBe(false);

    // Put the blob back: the restore now works.
    writeFileSync(blob, original);
    const r = await b.client.restore({ recoveryKey });
    await r.media;
    expect(await b.store.digest()).toBe(await a.store.digest());
  });

  it('a download cut mid-way resumes with a range request', async () => {
    const srv = await startServer({}, { port: port++ });
    cleanups.push(() => srv.close());
    const proxy = await startProxy({ host: '127.0.0.1', port: srv.port }, { port: port++ });
    cleanups.push(() => proxy.close());
    const ident = id('cut');
    const a = await makeDevice(proxy.url, { generate: { ...history, messages: 6000 } });
    devices.push(a);
    await a.client.registerWithDevOutbox(ident);
    const { recoveryKey } = await a.client.enableBackups();
    const { bytes } = await a.client.backupNow();
    expect(bytes).toBeGreaterThan(100_000);
    const b = await device(proxy.url, false);
    await b.client.registerWithDevOutbox(ident);
    proxy.cutNextDownload(60_000);
    const retries: string[] = [];
    const r = await b.client.restore({
      recoveryKey,
      onProgress: (e) => e.phase === 'retry' && retries.push(e.code!),
    });
    expect(proxy.cuts).toBe(1);
    expect(retries).toContain('COFFER_ERR_NETWORK');
    expect(r.chatItems).toBe(6000);
    await r.media;
    expect(await b.store.digest()).toBe(await a.store.digest());
  });

  it('quota exceeded is reported as COFFER_ERR_QUOTA_FULL', async () => {
    const srv = await startServer(
      {
        levels: {
          free: { mediaBytes: 20_000, mediaTtlDays: 45 },
          paid: { mediaBytes: 1 << 30, mediaTtlDays: 0 },
        },
      },
      { port: port++ },
    );
    cleanups.push(() => srv.close());
    const a = await device(srv.url);
    await a.client.registerWithDevOutbox(id('quota'));
    await a.client.enableBackups();
    await expect(a.client.backupNow()).rejects.toMatchObject({ code: 'COFFER_ERR_QUOTA_FULL' });
  });

  it('rotation: the new key restores, the old one no longer does; disable with delete removes everything', async () => {
    const srv = await startServer({}, { port: port++ });
    cleanups.push(() => srv.close());
    const ident = id('rotate');
    const a = await device(srv.url);
    await a.client.registerWithDevOutbox(ident);
    const { recoveryKey: oldKey } = await a.client.enableBackups();
    await a.client.backupNow();
    const { recoveryKey: newKey } = await a.client.rotateRecoveryKey();
    expect(newKey).not.toBe(oldKey);
    expect(await a.client.confirmRecoveryKey(oldKey)).toBe(false);
    expect(await a.client.confirmRecoveryKey(newKey)).toBe(true);

    const b = await device(srv.url, false);
    await b.client.registerWithDevOutbox(ident);
    await expect(b.client.restore({ recoveryKey: oldKey })).rejects.toMatchObject({
      code: expect.stringMatching(/COFFER_ERR_(WRONG_RECOVERY_KEY|NO_BACKUP_FOUND)/),
    });
    const r = await b.client.restore({ recoveryKey: newKey });
    const m = await r.media;
    expect(m.failed).toBe(0);
    expect(await b.store.digest({ media: true })).toBe(await a.store.digest({ media: true }));

    // Disable with delete (from the restored device, which adopted the key).
    await b.client.disableBackups({ deleteFromServer: true });
    expect((await b.client.status()).enabled).toBe(false);
    expect(await b.keys.read('backup-keys')).toBeUndefined();
    const c = await device(srv.url, false);
    await c.client.registerWithDevOutbox(ident);
    await expect(c.client.restore({ recoveryKey: newKey })).rejects.toMatchObject({
      code: expect.stringMatching(/COFFER_ERR_(WRONG_RECOVERY_KEY|NO_BACKUP_FOUND)/),
    });
  });
});

describe('server killed mid-upload', () => {
  it('the upload resumes after the server restarts (SIGKILL) and the backup is complete', async () => {
    const bin = fileURLToPath(new URL('../../cli/bin/coffer.js', import.meta.url));
    const dataDir = mkdtempSync(join(tmpdir(), 'coffer-kill-'));
    const serverPort = port++;
    let child: ChildProcess | undefined;
    const start = async () => {
      child = spawn(
        process.execPath,
        [bin, 'serve', '--data', dataDir, '--port', String(serverPort), '--dev-outbox', '--no-web'],
        { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, COFFER_LOG_LEVEL: 'error' } },
      );
      for (let i = 0; i < 200; i++) {
        try {
          const r = await fetch(`http://127.0.0.1:${serverPort}/readyz`);
          if (r.ok) return;
        } catch {}
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('server did not start');
    };
    cleanups.push(() => {
      child?.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    });
    await start();
    // 1 MB/s upstream: a ~1.5 MB backup is still uploading when the server dies.
    const proxy = await startProxy(
      { host: '127.0.0.1', port: serverPort },
      { port: port++, upBytesPerSecond: 1_000_000 },
    );
    cleanups.push(() => proxy.close());
    const ident = id('kill');
    const a = await makeDevice(proxy.url, {
      generate: { ...history, messages: 30_000, media: 0 },
      uploadRetryDelays: [300, 600, 1000, 2000, 3000, 5000, 8000],
    });
    devices.push(a);
    await a.client.registerWithDevOutbox(ident);
    const { recoveryKey } = await a.client.enableBackups();
    let killed = false;
    let restarted: Promise<void> | undefined;
    const r = await a.client.backupNow({
      onProgress: (e) => {
        if (!killed && e.phase === 'upload' && e.bytes && e.totalBytes && e.bytes > e.totalBytes * 0.3) {
          killed = true;
          child?.kill('SIGKILL');
          restarted = new Promise<void>((res) => child!.once('exit', () => res())).then(start);
        }
      },
    });
    await restarted;
    expect(killed).toBe(true);
    expect(r.bytes).toBeGreaterThan(500_000);
    const b = await device(proxy.url, false);
    await b.client.registerWithDevOutbox(ident);
    const restored = await b.client.restore({ recoveryKey });
    expect(restored.chatItems).toBe(30_000);
    expect(await b.store.digest()).toBe(await a.store.digest());
    expect(existsSync(dataDir)).toBe(true);
  });
});
