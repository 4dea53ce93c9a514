import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Device, makeDevice, startServer, type TestServer } from './harness.ts';

let srv: TestServer;
const devices: Device[] = [];
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  for (const d of devices) d.close();
  await srv?.close();
});

const history = { chats: 4, messages: 1500, media: 10, seed: 'e2e', mediaSize: 4096 };

describe('full cycle over a real socket', () => {
  it('backs up with media, restores on a new device after identity verification, equal history', async () => {
    const identifier = `alice-${Date.now()}@example.org`;
    const a = await makeDevice(srv.url, { generate: history });
    devices.push(a);
    await a.client.registerWithDevOutbox(identifier);
    // Opt-in first: nothing is uploaded before backups are turned on.
    await expect(a.client.backupNow()).rejects.toMatchObject({ code: 'COFFER_ERR_NOT_ENABLED' });
    const { recoveryKey, displayKey } = await a.client.enableBackups();
    expect(displayKey.replaceAll(' ', '').toLowerCase()).toBe(recoveryKey);
    expect(await a.client.confirmRecoveryKey(displayKey)).toBe(true);
    const phases = new Set<string>();
    const r = await a.client.backupNow({ onProgress: (e) => phases.add(e.phase) });
    expect(r.bytes).toBeGreaterThan(10_000);
    expect(r.media.uploaded).toBeGreaterThan(10);
    expect([...phases]).toEqual(expect.arrayContaining(['export', 'upload', 'media']));

    // A second backup uploads only new media: none here.
    const r2 = await a.client.backupNow();
    expect(r2.media.uploaded).toBe(0);
    expect(r2.media.bytesUploaded).toBe(0);

    const b = await makeDevice(srv.url);
    devices.push(b);
    const reg = await b.client.registerWithDevOutbox(identifier);
    expect(reg.reregistered).toBe(true);
    const restored = await b.client.restore({ recoveryKey: displayKey.toLowerCase() });
    expect(restored.chatItems).toBe(1500);
    expect(await b.store.digest()).toBe(await a.store.digest());
    const media = await restored.media;
    expect(media.failed).toBe(0);
    expect(media.files).toBe(a.store.listMedia().length);
    expect(await b.store.digest({ media: true })).toBe(await a.store.digest({ media: true }));
  });
});
