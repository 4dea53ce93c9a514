// Anonymous credentials are kept in the profile's key store (api.md section 3: ~20 issuance requests
// per account and day), so a second client on the same profile does not fetch them again.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CofferClient } from '../src/index.ts';
import { FileKeyStore, nodePlatform } from '../src/node.ts';
import { type Device, makeDevice, startServer, type TestServer } from './harness.ts';

let srv: TestServer;
const devices: Device[] = [];
beforeAll(async () => {
  // This task's port range (33000-33999).
  srv = await startServer({}, { port: 33000 + Math.floor(Math.random() * 900) + (process.pid % 90) });
});
afterAll(async () => {
  for (const d of devices) d.close();
  await srv?.close();
});

/** A fetch that counts credential issuance requests (POST /v1/credentials). */
function countingFetch() {
  const counter = { issuance: 0, storeSingle: 0, storeBatch: 0 };
  const f: typeof fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const path = new URL(url).pathname;
    if (init?.method === 'POST' && path === '/v1/credentials') counter.issuance++;
    if (init?.method === 'PUT' && path === '/v1/archives/media') counter.storeSingle++;
    if (init?.method === 'PUT' && path === '/v1/archives/media/batch') counter.storeBatch++;
    return fetch(input, init);
  };
  return { counter, f };
}

describe('stored anonymous credentials', () => {
  it('two clients on the same profile fetch credentials once; disable drops them', async () => {
    const { counter, f } = countingFetch();
    const a = await makeDevice(srv.url, {
      fetch: f,
      generate: { chats: 1, messages: 50, media: 2, seed: 'creds', mediaSize: 1024 },
    });
    devices.push(a);
    await a.client.registerWithDevOutbox(`creds-${Date.now()}@example.org`);
    await a.client.enableBackups();
    const afterEnable = counter.issuance;
    expect(afterEnable).toBe(1);
    const first = await a.client.backupNow();
    expect(counter.issuance).toBe(afterEnable);
    // The store step goes through the batch endpoint: one request for the 4 objects (2 files + thumbnails).
    expect(first.media.uploaded).toBeGreaterThanOrEqual(2);
    expect(counter.storeBatch).toBe(1);
    expect(counter.storeSingle).toBe(0);

    // A second process on the same profile: a new client over the same key-store folder.
    const second = new CofferClient({
      store: a.store,
      keyStore: new FileKeyStore(join(a.dir, 'keys')),
      platform: nodePlatform(),
      fetch: f,
    });
    const r = await second.backupNow();
    expect(r.media.uploaded).toBe(0);
    await second.verifyLatestBackup();
    expect(counter.issuance).toBe(afterEnable);

    // Stored with owner-only permissions, like the keys.
    const files = await import('node:fs/promises').then((fs) => fs.readdir(join(a.dir, 'keys')));
    const entry = files.find((n) => n.includes('credentials'));
    expect(entry).toBeDefined();
    expect(statSync(join(a.dir, 'keys', entry!)).mode & 0o077).toBe(0);
    expect(readFileSync(join(a.dir, 'keys', entry!), 'utf8').length).toBeGreaterThan(100);

    await second.disableBackups();
    const after = await import('node:fs/promises').then((fs) => fs.readdir(join(a.dir, 'keys')));
    expect(after.some((n) => n.includes('credentials'))).toBe(false);
  });
});
