// A stored anonymous credential the server no longer accepts (it rotated its credential keys; the
// same happens after it lost them) is dropped, fresh credentials are fetched once, and the request is
// retried once (issue 7). Against a real server: its keys are deleted and it is restarted, as an
// operator rotating them would.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePortInRange } from '../../../test-support/services.ts';
import { CofferClient } from '../src/index.ts';
import { FileKeyStore, nodePlatform } from '../src/node.ts';
import { type Device, makeDevice, startServer, type TestServer } from './harness.ts';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** A fetch that counts credential issuance requests and anonymous requests refused for their credential. */
function countingFetch() {
  const counter = { issuance: 0, rejected: 0 };
  const f: typeof fetch = async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (init?.method === 'POST' && new URL(url).pathname === '/v1/credentials') counter.issuance++;
    const res = await fetch(input, init);
    if (res.status === 401) {
      const code = (await res
        .clone()
        .json()
        .catch(() => ({}))) as { error?: { code?: string } };
      if (code.error?.code === 'COFFER_ERR_CREDENTIAL_INVALID') counter.rejected++;
    }
    return res;
  };
  return { counter, f };
}

describe('a credential the server rejects', () => {
  it('is dropped and fetched again once; the backup then succeeds and the new credentials are stored', async () => {
    const port = await freePortInRange(27350, 27369);
    let srv: TestServer = await startServer({}, { port });
    const dir = srv.dir;
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => srv.close());
    const { counter, f } = countingFetch();
    const a: Device = await makeDevice(srv.url, {
      fetch: f,
      generate: { chats: 1, messages: 40, media: 1, seed: 'rotate', mediaSize: 512 },
    });
    cleanups.push(() => a.close());
    await a.client.registerWithDevOutbox(`rotate-${Date.now()}@example.org`);
    await a.client.enableBackups();
    await a.client.backupNow();
    expect(counter.issuance).toBe(1);
    const storedBefore = await a.keys.read('backup-credentials');
    expect(storedBefore).toBeDefined();

    // The operator rotates the credential keys: they are deleted and the server restarted.
    await srv.server.ctx.db.deleteFrom('credential_keys').execute();
    await srv.server.close();
    srv = await startServer({}, { dir, port });

    // The next run (a new client over the same profile) starts from the stored credentials.
    const next = new CofferClient({
      store: a.store,
      keyStore: new FileKeyStore(join(a.dir, 'keys')),
      platform: nodePlatform(),
      fetch: f,
    });
    const r = await next.backupNow();
    expect(r.bytes).toBeGreaterThan(0);
    expect(counter.rejected, 'the stale credential was refused once').toBe(1);
    expect(counter.issuance, 'fresh credentials were fetched once').toBe(2);
    await next.verifyLatestBackup();
    expect(counter.issuance).toBe(2);
    const storedAfter = await a.keys.read('backup-credentials');
    expect(storedAfter).toBeDefined();
    expect(storedAfter).not.toBe(storedBefore);

    // A third run uses the stored fresh credentials: no refusal, no issuance.
    const third = new CofferClient({
      store: a.store,
      keyStore: new FileKeyStore(join(a.dir, 'keys')),
      platform: nodePlatform(),
      fetch: f,
    });
    await third.verifyLatestBackup();
    expect(counter).toEqual({ issuance: 2, rejected: 1 });
  });
});
