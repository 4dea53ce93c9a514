// The idle timeout (limits.idleTimeoutMs) is for clients that stop sending. Once an upload's last
// byte is in, the wait is the server's (S3 parts, the commit): a slow commit must still be answered,
// not cut off as an idle socket (found with 50 concurrent uploads on PostgreSQL + S3: every PATCH
// ended in "socket hang up" while the server was still writing parts to the store).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { startTestServer } from './helpers.ts';
import { socketClient } from './socket-helpers.ts';

describe('idle timeout and slow commits', () => {
  it('answers a finished upload whose commit outlasts limits.idleTimeoutMs', async () => {
    const ts = await startTestServer({ limits: { idleTimeoutMs: 1000 } }, { faultDelayCommitMs: 2500 });
    try {
      const base = await ts.server.listen();
      const c = socketClient(base, () => ts.clock.t);
      await c.register(ts.sender);
      await c.fetchCredentials([0]);
      expect((await c.setKey(1)).status).toBe(204);
      const data = randomBytes(50_000);
      const f = await c.signed('GET', `/v1/archives/upload/form?uploadLength=${data.length}`);
      expect(f.status).toBe(200);
      const t0 = Date.now();
      const up = await fetch(f.body.uploadUrl, {
        method: 'POST',
        headers: {
          ...f.body.headers,
          'tus-resumable': '1.0.0',
          'upload-length': String(data.length),
          'content-type': 'application/offset+octet-stream',
        },
        body: new Uint8Array(data),
      });
      expect(up.status).toBe(201);
      expect(up.headers.get('upload-offset')).toBe(String(data.length));
      expect(Date.now() - t0).toBeGreaterThanOrEqual(2400); // the commit really took longer than the timeout
    } finally {
      await ts.close();
    }
  });
});
