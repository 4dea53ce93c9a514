// Upload forms reserve upload rows: they are limited per backup id per hour.
import { describe, expect, it } from 'vitest';
import { startTestServer, TestClient } from './helpers.ts';

describe('upload form limit', () => {
  it('refuses forms beyond limits.uploadFormsPerHour for one backup id, not for another', async () => {
    const ts = await startTestServer({ limits: { uploadFormsPerHour: 3 } });
    try {
      const a = TestClient.forServer(ts);
      await a.register(ts.sender);
      await a.fetchCredentials([0]);
      await a.setKey(1);
      const codes = [];
      for (let i = 0; i < 5; i++)
        codes.push((await a.signed('GET', '/v1/archives/upload/form?uploadLength=10')).status);
      expect(codes).toEqual([200, 200, 200, 429, 429]);
      const b = TestClient.forServer(ts);
      await b.register(ts.sender);
      await b.fetchCredentials([0]);
      await b.setKey(1);
      expect((await b.signed('GET', '/v1/archives/upload/form?uploadLength=10')).status).toBe(200);
      ts.clock.t += 3_600_001;
      await a.fetchCredentials([0]);
      expect((await a.signed('GET', '/v1/archives/upload/form?uploadLength=10')).status).toBe(200);
    } finally {
      await ts.close();
    }
  });
});
