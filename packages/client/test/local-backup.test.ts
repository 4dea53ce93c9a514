import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileSource } from '@coffer/crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomically } from '../src/node.ts';
import { type Device, makeDevice } from './harness.ts';

const devices: Device[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'coffer-local-'));
afterEach(() => {
  for (const d of devices.splice(0)) d.close();
});

const history = { chats: 5, messages: 2000, media: 8, seed: 'local', mediaSize: 1024 };

describe('local backups (sealed file, no server)', () => {
  it('backs up to a file and restores it on another device with the key and account id', async () => {
    const a = await makeDevice(undefined, { generate: history });
    devices.push(a);
    const { recoveryKey } = await a.client.enableBackups();
    const file = join(tmp, 'a.coffer');
    const size = await writeFileAtomically(file, await a.client.sealedBackup());
    expect(size).toBeGreaterThan(1000);
    const aci = (await a.client.status()).aci!;

    const b = await makeDevice(undefined);
    devices.push(b);
    const opened = await b.client.restoreFromSource(await fileSource(file), { recoveryKey, aci });
    expect(opened.summary.chatItems).toBe(2000);
    expect(await b.store.digest()).toBe(await a.store.digest());
    expect((await b.client.status()).enabled).toBe(true);
  });

  it('refuses a wrong key and a damaged file, leaving the device unchanged', async () => {
    const a = await makeDevice(undefined, { generate: history });
    devices.push(a);
    const { recoveryKey } = await a.client.enableBackups();
    const aci = (await a.client.status()).aci!;
    const file = join(tmp, 'b.coffer');
    await writeFileAtomically(file, await a.client.sealedBackup());

    const b = await makeDevice(undefined, { generate: { ...history, seed: 'other', messages: 300 } });
    devices.push(b);
    const before = await b.store.digest();
    const wrongKey = recoveryKey.slice(0, 63) + (recoveryKey.endsWith('a') ? 'b' : 'a');
    await expect(
      b.client.restoreFromSource(await fileSource(file), { recoveryKey: wrongKey, aci }),
    ).rejects.toMatchObject({
      code: 'COFFER_ERR_WRONG_RECOVERY_KEY',
    });
    const bytes = readFileSync(file);
    const truncated = join(tmp, 'truncated.coffer');
    writeFileSync(truncated, bytes.subarray(0, bytes.length - 100));
    await expect(
      b.client.restoreFromSource(await fileSource(truncated), { recoveryKey, aci }),
    ).rejects.toMatchObject({
      code: expect.stringMatching(/COFFER_ERR_(WRONG_RECOVERY_KEY|BACKUP_CORRUPTED)/),
    });
    expect(await b.store.digest()).toBe(before);
    expect((await b.client.status()).enabled).toBe(false);
  });

  it('writeFileAtomically leaves no file when the stream fails', async () => {
    const file = join(tmp, 'never.coffer');
    async function* failing() {
      yield new Uint8Array(10);
      throw new Error('boom');
    }
    await expect(writeFileAtomically(file, failing())).rejects.toThrow('boom');
    expect(() => readFileSync(file)).toThrow();
  });
});

process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

describe('turning backups on before registering', () => {
  it('switches to the server account id on registration, so a new device can restore', async () => {
    const { startServer, makeDevice: mk } = await import('./harness.ts');
    const srv = await startServer({}, { port: 27960 + (process.pid % 30) });
    try {
      const a = await mk(srv.url, {
        generate: { chats: 2, messages: 200, media: 1, seed: 'pre', mediaSize: 500 },
      });
      devices.push(a);
      const { recoveryKey } = await a.client.enableBackups();
      const localAci = (await a.client.status()).aci;
      const ident = `pre-${Date.now()}@example.org`;
      const reg = await a.client.registerWithDevOutbox(ident);
      expect(reg.aci).not.toBe(localAci);
      await a.client.backupNow();
      const b = await mk(srv.url);
      devices.push(b);
      await b.client.registerWithDevOutbox(ident);
      const r = await b.client.restore({ recoveryKey });
      await r.media;
      expect(await b.store.digest()).toBe(await a.store.digest());
    } finally {
      await srv.close();
    }
  });
});
