import { describe, expect, it } from 'vitest';
import { startTestServer, TestClient } from './helpers.ts';

describe('core path over inject: verify -> register -> credentials -> set key -> upload form', () => {
  it('works end to end (tus upload is covered by the socket test)', async () => {
    const ts = await startTestServer();
    try {
      const c = TestClient.forServer(ts);
      const reg = await c.register(ts.sender);
      expect(reg.aci).toMatch(/^[0-9a-f-]{36}$/);
      expect(reg.level).toBe(200);
      const me = await c.json({
        method: 'GET',
        url: '/v1/accounts/me',
        headers: { authorization: `Bearer ${c.deviceToken}` },
      });
      expect(me.body).toMatchObject({ aci: reg.aci, level: 200 });
      const cr = await c.fetchCredentials();
      expect(cr.status).toBe(200);
      expect(c.creds.size).toBe(14);
      expect((await c.setKey(1)).status).toBe(204);
      const info = await c.signed('GET', '/v1/archives');
      expect(info.status).toBe(200);
      expect(info.body).toMatchObject({ backupName: 'messageBackup', usedSpace: 0, current: null });
      expect(info.body.backupDir).toMatch(/^[A-Za-z0-9_-]{22}$/);
      const form = await c.signed('GET', '/v1/archives/upload/form?uploadLength=1000');
      expect(form.status).toBe(200);
      expect(form.body.headers.Authorization).toMatch(/^Bearer /);
    } finally {
      await ts.close();
    }
  });
});

describe('credential key rotation', () => {
  it('creates today and the coming week of keys for the default level in the background', async () => {
    const ts = await startTestServer({}, { jobs: true });
    try {
      const count = async () =>
        Number(
          (
            await ts.server.ctx.db
              .selectFrom('credential_keys')
              .select((eb) => eb.fn.countAll<number>().as('n'))
              .where('level', '=', 200)
              .executeTakeFirstOrThrow()
          ).n,
        );
      const deadline = Date.now() + 60_000;
      while ((await count()) < 16 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await count()).toBe(16);
      const paid = await ts.server.ctx.db
        .selectFrom('credential_keys')
        .select('level')
        .where('level', '=', 201)
        .execute();
      expect(paid).toEqual([]);
    } finally {
      await ts.close();
    }
  });
});
