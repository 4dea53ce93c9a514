// Tamper and corruption of stored blobs (issue 7): a device backs up (history + media) to a real
// server; then the blobs in the server's store are damaged - random single-bit flips and truncations -
// and a new device restores. Every damaged copy must be refused with a corruption code by the
// client's open path (MAC over the whole file before anything is decrypted or imported), and the
// device's chat store must stay exactly as it was. 200 positions in CI, 10,000 in the soak profile;
// a few of them go the whole way (damaged file on the server's disk, download over HTTP, restore),
// the rest feed the same bytes to the client's restoreFromSource (same open + import code, no HTTP).
// A local file with a bad MAC may equally be a wrong key, so there either code is right; over HTTP
// it must be COFFER_ERR_BACKUP_CORRUPTED.
import fs from 'node:fs';
import path from 'node:path';
import { bytesSource } from '@coffer/crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Device, makeDevice, startServer, type TestServer } from '../../packages/client/test/harness.ts';
import { runSeed, seededRandom, trials } from '../../test-support/profile.ts';
import { freePortInRange } from '../../test-support/services.ts';

const CORRUPTION = ['COFFER_ERR_WRONG_RECOVERY_KEY', 'COFFER_ERR_BACKUP_CORRUPTED'];
const positions = trials('tamper', 200, 10_000);
const overHttp = trials('tamper_http', 6, 60);

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}

describe('stored-blob tampering is detected by the client and never imported', () => {
  let srv: TestServer;
  let a: Device;
  let b: Device;
  let recoveryKey: string;
  let aci: string;
  let blobFile: string;
  let original: Buffer;
  const identifier = `tamper-${Date.now()}@example.org`;
  const seed = runSeed();
  const rnd = seededRandom(seed);

  beforeAll(async () => {
    srv = await startServer({}, { port: await freePortInRange(29300, 29399) });
    a = await makeDevice(srv.url, {
      generate: { chats: 3, messages: 200, media: 5, seed: 'tamper', mediaSize: 3000 },
    });
    await a.client.registerWithDevOutbox(identifier);
    recoveryKey = (await a.client.enableBackups()).recoveryKey;
    await a.client.backupNow();
    aci = (await a.client.status()).aci as string;
    const files = walk(path.join(srv.dir, 'blobs', 'o', 'backups'));
    expect(files).toHaveLength(1);
    blobFile = files[0] as string;
    original = fs.readFileSync(blobFile);
    b = await makeDevice(srv.url);
    await b.client.registerWithDevOutbox(identifier); // same identifier: same ACI on a new device
  }, 180_000);
  afterAll(async () => {
    a?.close();
    b?.close();
    await srv?.close();
    if (srv) fs.rmSync(srv.dir, { recursive: true, force: true });
  });

  const mutate = (i: number): { bytes: Buffer; what: string } => {
    if (i % 5 === 4) {
      const len = Math.floor(rnd() * original.length);
      return { bytes: original.subarray(0, len), what: `truncated to ${len}` };
    }
    const pos = Math.floor(rnd() * original.length);
    const bit = Math.floor(rnd() * 8);
    const bytes = Buffer.from(original);
    bytes[pos] = (bytes[pos] as number) ^ (1 << bit);
    return { bytes, what: `bit ${bit} of byte ${pos}` };
  };

  it(`${overHttp} damaged copies on the server's disk: restore over HTTP refuses, nothing imported`, async () => {
    const before = await b.store.digest();
    try {
      for (let i = 0; i < overHttp; i++) {
        const m = mutate(i);
        fs.writeFileSync(blobFile, m.bytes);
        const err = await b.client.restore({ recoveryKey }).then(
          () => undefined,
          (e: unknown) => e as { code?: string },
        );
        expect(err, `${m.what} (seed ${seed}) was accepted`).toBeDefined();
        // Over HTTP the key is known to be right (the server knows its backup id and checked the
        // signature), so a bad MAC is damage, never "wrong key".
        expect(err?.code, m.what).toBe('COFFER_ERR_BACKUP_CORRUPTED');
        expect(await b.store.digest()).toBe(before);
      }
    } finally {
      fs.writeFileSync(blobFile, original);
    }
  }, 300_000);

  it(`${positions} bit flips and truncations through the client's open path are all refused`, async () => {
    const before = await b.store.digest();
    const seen = new Map<string, number>();
    for (let i = 0; i < positions; i++) {
      const m = mutate(i);
      const err = await b.client.restoreFromSource(bytesSource(m.bytes), { recoveryKey, aci }).then(
        () => undefined,
        (e: unknown) => e as { code?: string },
      );
      expect(err, `${m.what} (seed ${seed}) was accepted`).toBeDefined();
      expect(CORRUPTION, `${m.what}: ${String(err?.code)}`).toContain(err?.code);
      seen.set(err?.code as string, (seen.get(err?.code as string) ?? 0) + 1);
    }
    expect(await b.store.digest()).toBe(before);
    expect((await b.client.status()).enabled).toBe(false);
    console.log(
      `tamper: ${positions} mutations (seed ${seed}), refused as ${JSON.stringify(Object.fromEntries(seen))}`,
    );
  }, 1_800_000);

  it('damaged media objects are refused one by one and never written; the intact copies restore', async () => {
    const mediaFiles = walk(path.join(srv.dir, 'blobs', 'o', 'media'));
    expect(mediaFiles.length).toBeGreaterThan(0);
    const originals = mediaFiles.map((f) => fs.readFileSync(f));
    for (const f of mediaFiles) {
      const bytes = fs.readFileSync(f);
      const pos = Math.floor(rnd() * bytes.length);
      bytes[pos] = (bytes[pos] as number) ^ (1 << Math.floor(rnd() * 8));
      fs.writeFileSync(f, bytes);
    }
    const restored = await b.client.restore({ recoveryKey }); // the messages backup is intact again
    expect(await b.store.digest()).toBe(await a.store.digest());
    const media = await restored.media;
    expect(media.files + media.thumbnails).toBe(0);
    expect(media.failed).toBe(mediaFiles.length);
    expect(await b.store.digest({ media: true })).not.toBe(await a.store.digest({ media: true }));

    mediaFiles.forEach((f, i) => {
      fs.writeFileSync(f, originals[i] as Buffer);
    });
    const again = await b.client.restoreMedia();
    expect(again.failed).toBe(0);
    expect(await b.store.digest({ media: true })).toBe(await a.store.digest({ media: true }));
  }, 300_000);
});
