// The replay store across its boundaries (src/db/replay-store.ts): on the embedded store an accepted
// signature is first held in memory and written in batches; a replay must be refused while it is
// only in memory, after it was written, after a restart (close writes what is pending), and when two
// copies of one request arrive together. On PostgreSQL (COFFER_TEST_STORAGE=pg-s3) every accepted
// signature is in the table at once; the same requests must give the same answers.
import { xeddsaSign } from '@coffer/crypto';
import { signRequest } from '@coffer/protocol';
import { SqliteAdapter } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLUSH_INTERVAL_MS, flushReplayStore } from '../src/db/replay-store.ts';
import { sha256Hex } from '../src/util/crypto.ts';
import { startTestServer, TestClient, type TestServer } from './helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('replay store: refused in memory, in the table, after a restart, and when sent twice at once', () => {
  let ts: TestServer;
  let c: TestClient;
  const closeLater: TestServer[] = [];

  beforeAll(async () => {
    ts = await startTestServer();
    c = TestClient.forServer(ts);
    await c.register(ts.sender);
    await c.fetchCredentials([0]);
    expect((await c.setKey(1)).status).toBe(204);
  });
  afterAll(async () => {
    for (const s of closeLater) await s.close();
    await ts.close();
  });

  const sign = () =>
    signRequest({
      method: 'POST',
      pathAndQuery: '/v1/archives',
      credential: c.credential(1),
      sign: (m) => xeddsaSign(c.keyPair(1).privateKey, m),
      now: () => ts.clock.t,
    });
  const send = (client: TestClient, h: Record<string, string>) =>
    client.json({ method: 'POST', url: '/v1/archives', headers: h });
  const stored = async (server: TestServer, h: Record<string, string>) => {
    const hash = sha256Hex(Buffer.from(h['x-coffer-signature'] as string, 'base64url'));
    return server.server.ctx.db
      .selectFrom('seen_signatures')
      .select(['signature_hash', 'expires_at'])
      .where('signature_hash', '=', hash)
      .executeTakeFirst();
  };
  const isSqlite = () => ts.server.ctx.db.getExecutor().adapter instanceof SqliteAdapter;

  it('a replay is refused while the signature is only in memory, and after it was written', async () => {
    const h = await sign();
    expect((await send(c, h)).status).toBe(204);
    // The boundary under test: embedded, not written yet; PostgreSQL, written at once.
    if (isSqlite()) expect(await stored(ts, h)).toBeUndefined();
    else expect(await stored(ts, h)).toBeDefined();
    const inMemory = await send(c, h);
    expect(inMemory.status).toBe(401);
    expect(inMemory.body.error.code).toBe('COFFER_ERR_REPLAY');

    await sleep(FLUSH_INTERVAL_MS * 3); // the batch timer writes it
    const row = await stored(ts, h);
    expect(row).toBeDefined();
    const tsSeconds = Number(h['x-coffer-timestamp']);
    expect(Number(row?.expires_at)).toBe(
      (tsSeconds + ts.server.ctx.config.signatures.maxSkewSeconds + 1) * 1000,
    );
    const fromTable = await send(c, h);
    expect(fromTable.status).toBe(401);
    expect(fromTable.body.error.code).toBe('COFFER_ERR_REPLAY');
  });

  it('two copies of one signed request sent at once: exactly one is accepted', async () => {
    for (let round = 0; round < 5; round++) {
      const h = await sign();
      const answers = await Promise.all([send(c, h), send(c, h), send(c, h)]);
      const statuses = answers.map((a) => a.status).sort();
      expect(statuses).toEqual([204, 401, 401]);
      for (const a of answers.filter((x) => x.status === 401))
        expect(a.body.error.code).toBe('COFFER_ERR_REPLAY');
    }
  });

  it('a signature accepted just before a restart is refused after it (close writes the pending batch)', async () => {
    const h = await sign();
    expect((await send(c, h)).status).toBe(204);
    if (isSqlite()) expect(await stored(ts, h)).toBeUndefined(); // still only in memory when closing
    const dir = ts.dir;
    const clock = ts.clock.t;
    await ts.server.close();
    const again = await startTestServer({}, { dir });
    again.clock.t = clock;
    closeLater.push(again);
    const c2 = TestClient.forServer(again);
    const r = await send(c2, h);
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('COFFER_ERR_REPLAY');
    // A fresh signature still works on the restarted server.
    const fresh = await signRequest({
      method: 'POST',
      pathAndQuery: '/v1/archives',
      credential: c.credential(1),
      sign: (m) => xeddsaSign(c.keyPair(1).privateKey, m),
      now: () => again.clock.t,
    });
    expect((await send(c2, fresh)).status).toBe(204);
    await flushReplayStore(again.server.ctx.db);
    expect(await stored(again, fresh)).toBeDefined();
  });
});
