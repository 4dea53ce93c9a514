// biome-ignore-all lint/suspicious/noExplicitAny: tests read arbitrary JSON responses
// Query coercion turns "Infinity" and "1e400" into numbers that pass integer bounds; JSON.parse
// reads 1e400 as Infinity. Each must be a 400 BAD_REQUEST that changes nothing, never a 500.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, TestClient, type TestServer } from './helpers.ts';

describe('numbers that are not finite', () => {
  let ts: TestServer;
  let c: TestClient;
  beforeAll(async () => {
    ts = await startTestServer({});
    c = TestClient.forServer(ts);
    await c.register(ts.sender);
    await c.fetchCredentials([0]);
    expect((await c.setKey(1)).status).toBe(204);
    expect((await c.setKey(2)).status).toBe(204);
  });
  afterAll(async () => {
    await ts.close();
  });
  const media = (method: string, url: string, body?: unknown) => c.signed(method, url, body, { type: 2 });

  it.each(['Infinity', '-Infinity', '1e400', '-1e400'])(
    'refuses limit=%s on the media listing',
    async (v) => {
      const r = await media('GET', `/v1/archives/media?limit=${v}`);
      expect({ status: r.status, code: r.body?.error?.code }).toEqual({
        status: 400,
        code: 'COFFER_ERR_BAD_REQUEST',
      });
    },
  );

  it.each(['Infinity', '1e400'])('refuses uploadLength=%s on the upload forms', async (v) => {
    for (const url of ['/v1/archives/upload/form', '/v1/archives/media/upload/form']) {
      const r = await c.signed('GET', `${url}?uploadLength=${v}`, undefined, {
        type: url.includes('media') ? 2 : 1,
      });
      expect({ url, status: r.status, code: r.body?.error?.code }).toEqual({
        url,
        status: 400,
        code: 'COFFER_ERR_BAD_REQUEST',
      });
    }
  });

  it('refuses 1e400 in a JSON body and stores nothing', async () => {
    const mediaId = randomBytes(15).toString('base64url');
    // Built by hand: JSON.stringify would write Infinity as null.
    const raw = `{"sourceUploadId":"x","objectLength":1e400,"mediaId":"${mediaId}"}`;
    const r = await c.signed('PUT', '/v1/archives/media', undefined, { type: 2, rawJson: raw });
    expect({ status: r.status, code: r.body?.error?.code }).toEqual({
      status: 400,
      code: 'COFFER_ERR_BAD_REQUEST',
    });
    const listed = await media('GET', '/v1/archives/media?limit=10');
    expect(listed.status).toBe(200);
    expect(listed.body.storedMediaObjects).toEqual([]);
  });
});
