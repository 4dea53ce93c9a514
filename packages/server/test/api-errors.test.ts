// biome-ignore-all lint/suspicious/noExplicitAny: tests read arbitrary JSON responses
// Every endpoint and every error code, in-process (fastify.inject). Each code is triggered by a real
// request (or the real operator call) and recorded; the last test checks nothing was left out.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { deriveBackupIdKeyPair, xeddsaSign, xeddsaVerify } from '@coffer/crypto';
import {
  bodyHashHex,
  canonicalRequestString,
  DAY_SECONDS,
  dayStart,
  fromBase64Url,
  signRequest,
  toBase64Url,
} from '@coffer/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCofferServer } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { ERROR_CODES } from '../src/errors.ts';
import { setAccountLevel } from '../src/identity/accounts.ts';
import { startTestServer, TestClient, type TestServer } from './helpers.ts';

const seen = new Set<string>();
function expectError(r: { status: number; body: any }, status: number, code: string) {
  expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status, code });
  expect(typeof r.body.error.message).toBe('string');
  seen.add(code);
}

async function tusCreate(
  c: TestClient,
  form: { headers: Record<string, string> },
  data: Buffer,
  extra: Record<string, string> = {},
) {
  return c.inject({
    method: 'POST',
    url: '/v1/uploads',
    headers: {
      ...form.headers,
      'tus-resumable': '1.0.0',
      'upload-length': String(data.length),
      'content-type': 'application/offset+octet-stream',
      ...extra,
    },
    payload: data,
  });
}

describe('API endpoints and error codes (in-process)', () => {
  let ts: TestServer;
  let c: TestClient;
  beforeAll(async () => {
    ts = await startTestServer({
      levels: {
        free: { mediaBytes: 10_000, mediaTtlDays: 45 },
        paid: { mediaBytes: 1_000_000, mediaTtlDays: 0 },
      },
      messageBackupMaxBytes: 50_000,
      verification: { devOutbox: true, perIdentifier: { limit: 3, windowMs: 3_600_000 } },
    });
    c = TestClient.forServer(ts);
    await c.register(ts.sender);
    await c.fetchCredentials([-1, 0, 1, 2, 3, 4, 5]);
  });
  afterAll(async () => {
    await ts.close();
  });

  it('operations: healthz, readyz (not ready before listen), metrics, openapi', async () => {
    expect((await c.json({ method: 'GET', url: '/healthz' })).body).toEqual({ status: 'ok' });
    expectError(await c.json({ method: 'GET', url: '/readyz' }), 503, 'COFFER_ERR_NOT_READY');
    const m = await c.inject({ method: 'GET', url: '/metrics' });
    expect(m.body).toContain('coffer_http_requests_total');
    const o = await c.json({ method: 'GET', url: '/v1/openapi.json' });
    expect(o.status).toBe(200);
    expect(o.body.openapi).toMatch(/^3\./);
    for (const p of [
      '/v1/verification/sessions',
      '/v1/accounts',
      '/v1/credentials',
      '/v1/archives',
      '/v1/archives/media',
    ]) {
      expect(Object.keys(o.body.paths)).toContain(p);
    }
    expectError(await c.json({ method: 'GET', url: '/v1/nope' }), 404, 'COFFER_ERR_NOT_FOUND');
  });

  it('verification sessions: schema, identifier, wrong code, expiry, lock, rate limits, body size', async () => {
    expectError(
      await c.json({ method: 'POST', url: '/v1/verification/sessions', payload: {} }),
      400,
      'COFFER_ERR_BAD_REQUEST',
    );
    expectError(
      await c.json({
        method: 'POST',
        url: '/v1/verification/sessions',
        payload: { identifier: 'not an address' },
      }),
      400,
      'COFFER_ERR_IDENTIFIER_INVALID',
    );
    expectError(
      await c.json({
        method: 'POST',
        url: '/v1/verification/sessions',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ identifier: 'x'.repeat(200_000) }),
      }),
      413,
      'COFFER_ERR_BODY_TOO_LARGE',
    );
    expectError(
      await c.json({
        method: 'PUT',
        url: `/v1/verification/sessions/${'A'.repeat(24)}/code`,
        payload: { code: '123456' },
      }),
      404,
      'COFFER_ERR_SESSION_NOT_FOUND',
    );
    const id = 'codes@example.org';
    const s = await c.json({ method: 'POST', url: '/v1/verification/sessions', payload: { identifier: id } });
    expect(s.status).toBe(200);
    const code = ts.sender.outbox.get(id)?.at(-1)?.code as string;
    const wrong = code === '000000' ? '000001' : '000000';
    const put = (sid: string, v: string) =>
      c.json({ method: 'PUT', url: `/v1/verification/sessions/${sid}/code`, payload: { code: v } });
    const w = await put(s.body.sessionId, wrong);
    expectError(w, 403, 'COFFER_ERR_CODE_INCORRECT');
    expect(w.body.error.attemptsRemaining).toBe(4);
    // register before verifying
    expectError(
      await c.json({ method: 'POST', url: '/v1/accounts', payload: { sessionId: s.body.sessionId } }),
      403,
      'COFFER_ERR_SESSION_NOT_VERIFIED',
    );
    // expiry
    ts.clock.t += 11 * 60_000;
    expectError(await put(s.body.sessionId, code), 410, 'COFFER_ERR_SESSION_EXPIRED');
    ts.clock.t -= 11 * 60_000;
    // dev outbox is an endpoint when enabled
    const ob = await c.json({ method: 'GET', url: `/v1/dev/outbox?identifier=${encodeURIComponent(id)}` });
    expect(ob.body.messages.at(-1).code).toBe(code);
    // per-identifier rate limit (3 per hour in this config)
    await c.json({ method: 'POST', url: '/v1/verification/sessions', payload: { identifier: id } });
    await c.json({ method: 'POST', url: '/v1/verification/sessions', payload: { identifier: id } });
    const limited = await c.json({
      method: 'POST',
      url: '/v1/verification/sessions',
      payload: { identifier: id },
    });
    expectError(limited, 429, 'COFFER_ERR_RATE_LIMITED');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('1,000 wrong codes: locked after 5, the right code no longer works', async () => {
    const id = 'brute@example.org';
    const s = await c.json({ method: 'POST', url: '/v1/verification/sessions', payload: { identifier: id } });
    const code = ts.sender.outbox.get(id)?.at(-1)?.code as string;
    const statuses = new Map<string, number>();
    const guesses = Array.from({ length: 1000 }, (_, i) => String(i).padStart(6, '0')).filter(
      (g) => g !== code,
    );
    // in parallel batches: the attempt counter is taken before comparing, so concurrency gains nothing
    for (let i = 0; i < guesses.length; i += 100) {
      const rs = await Promise.all(
        guesses.slice(i, i + 100).map((g) =>
          c.json({
            method: 'PUT',
            url: `/v1/verification/sessions/${s.body.sessionId}/code`,
            payload: { code: g },
          }),
        ),
      );
      for (const r of rs) statuses.set(r.body.error.code, (statuses.get(r.body.error.code) ?? 0) + 1);
    }
    expect(statuses.get('COFFER_ERR_CODE_INCORRECT')).toBe(4);
    expect(statuses.get('COFFER_ERR_SESSION_LOCKED')).toBe(guesses.length - 4);
    const right = await c.json({
      method: 'PUT',
      url: `/v1/verification/sessions/${s.body.sessionId}/code`,
      payload: { code },
    });
    expectError(right, 429, 'COFFER_ERR_SESSION_LOCKED');
  });

  it('accounts: register, session reuse, device auth, re-registration keeps the ACI and signs out the old device', async () => {
    const a = TestClient.forServer(ts);
    const sid = await a.verify(ts.sender);
    const r1 = await a.json({ method: 'POST', url: '/v1/accounts', payload: { sessionId: sid } });
    expect(r1.status).toBe(200);
    expect(r1.body.reregistered).toBe(false);
    expectError(
      await a.json({ method: 'POST', url: '/v1/accounts', payload: { sessionId: sid } }),
      409,
      'COFFER_ERR_SESSION_USED',
    );
    expectError(await a.json({ method: 'GET', url: '/v1/accounts/me' }), 401, 'COFFER_ERR_AUTH_REQUIRED');
    expectError(
      await a.json({
        method: 'GET',
        url: '/v1/accounts/me',
        headers: { authorization: `Bearer ${r1.body.deviceId}.${'A'.repeat(43)}` },
      }),
      401,
      'COFFER_ERR_AUTH_INVALID',
    );
    const b = new TestClient(a.inject, a.now, a.identifier);
    await b.register(ts.sender);
    expect(b.aci).toBe(r1.body.aci);
    expectError(
      await a.json({
        method: 'GET',
        url: '/v1/accounts/me',
        headers: { authorization: `Bearer ${r1.body.deviceToken}` },
      }),
      401,
      'COFFER_ERR_AUTH_INVALID',
    );
    expect(
      (
        await b.json({
          method: 'GET',
          url: '/v1/accounts/me',
          headers: { authorization: `Bearer ${b.deviceToken}` },
        })
      ).status,
    ).toBe(200);
  });

  it('credentials: keys endpoint, range rules, level mismatch, daily limit', async () => {
    const today = dayStart(ts.clock.t);
    const k = await c.json({
      method: 'GET',
      url: `/v1/credentials/keys?start=${today}&end=${today + DAY_SECONDS}`,
    });
    expect(k.body.keys).toHaveLength(2 * 2 * 2); // 2 days x 2 levels x 2 types
    expectError(
      await c.json({ method: 'GET', url: `/v1/credentials/keys?start=${today + 5}&end=${today}` }),
      400,
      'COFFER_ERR_CREDENTIAL_RANGE',
    );
    expectError(
      await c.json({
        method: 'GET',
        url: `/v1/credentials/keys?start=${today}&end=${today + 8 * DAY_SECONDS}`,
      }),
      400,
      'COFFER_ERR_CREDENTIAL_RANGE',
    );
    expectError(
      await c.json({
        method: 'GET',
        url: `/v1/credentials/keys?start=${today - 2 * DAY_SECONDS}&end=${today}`,
      }),
      400,
      'COFFER_ERR_CREDENTIAL_RANGE',
    );
    const auth = { authorization: `Bearer ${c.deviceToken}` };
    expectError(
      await c.json({
        method: 'POST',
        url: '/v1/credentials',
        headers: auth,
        payload: { level: 201, requests: [{ redemptionTime: today, type: 1, blindedMessage: 'AA' }] },
      }),
      403,
      'COFFER_ERR_LEVEL_MISMATCH',
    );
    expectError(
      await c.json({
        method: 'POST',
        url: '/v1/credentials',
        headers: auth,
        payload: { level: 200, requests: [{ redemptionTime: today, type: 1, blindedMessage: 'AA' }] },
      }),
      400,
      'COFFER_ERR_BAD_REQUEST',
    );
    // the daily limit (20 requests in this config) is per account
    const d = TestClient.forServer(ts);
    await d.register(ts.sender);
    let last: { status: number; body: any } | undefined;
    for (let i = 0; i < 21; i++) last = await d.fetchCredentials([0], 200, [1]);
    expectError(last as { status: number; body: any }, 429, 'COFFER_ERR_CREDENTIAL_LIMIT');
  });

  it('anonymous auth: missing, malformed, forged, expired, future, wrong type, skew, replay, unknown id, key conflict', async () => {
    expectError(await c.json({ method: 'GET', url: '/v1/archives' }), 401, 'COFFER_ERR_CREDENTIAL_MISSING');
    expectError(
      await c.json({
        method: 'GET',
        url: '/v1/archives',
        headers: { 'x-coffer-credential': toBase64Url(c.credential(1)) },
      }),
      401,
      'COFFER_ERR_SIGNATURE_MISSING',
    );
    expectError(
      await c.signed('GET', '/v1/archives', undefined, { credential: new Uint8Array([1, 2, 3]) }),
      401,
      'COFFER_ERR_CREDENTIAL_MALFORMED',
    );
    const forged = c.credential(1).slice();
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
    expectError(
      await c.signed('GET', '/v1/archives', undefined, { credential: forged }),
      401,
      'COFFER_ERR_CREDENTIAL_INVALID',
    );
    expectError(
      await c.signed('GET', '/v1/archives', undefined, { credential: c.credential(1, 2) }),
      401,
      'COFFER_ERR_CREDENTIAL_NOT_YET_VALID',
    );
    // unknown backup id (no key set yet)
    expectError(await c.signed('GET', '/v1/archives'), 401, 'COFFER_ERR_BACKUP_ID_UNKNOWN');
    // an Authorization header on an anonymous endpoint is refused (spec 6.1)
    expectError(
      await c.signed('GET', '/v1/archives', undefined, { headers: { authorization: 'Bearer x' } }),
      400,
      'COFFER_ERR_BAD_REQUEST',
    );
    expect((await c.setKey(1)).status).toBe(204);
    expect((await c.setKey(1)).status).toBe(204); // same key again: a refresh
    const other = deriveBackupIdKeyPair(randomBytes(32), c.aci);
    expectError(
      await c.signed(
        'PUT',
        '/v1/archives/keys',
        { backupIdPublicKey: toBase64Url(other.publicKey) },
        { privateKey: other.privateKey },
      ),
      401,
      'COFFER_ERR_BACKUP_KEY_CONFLICT',
    );
    expectError(
      await c.signed('GET', '/v1/archives', undefined, { privateKey: other.privateKey }),
      401,
      'COFFER_ERR_SIGNATURE_INVALID',
    );
    expectError(
      await c.signed('GET', '/v1/archives/upload/form?uploadLength=10', undefined, {
        credential: c.credential(2),
      }),
      401,
      'COFFER_ERR_CREDENTIAL_TYPE',
    );
    // timestamp skew: signed 10 minutes ago
    const old = await signRequest({
      method: 'GET',
      pathAndQuery: '/v1/archives',
      credential: c.credential(1),
      sign: (m) => xeddsaSign(c.keyPair(1).privateKey, m),
      now: () => ts.clock.t - 10 * 60_000,
    });
    expectError(
      await c.json({ method: 'GET', url: '/v1/archives', headers: old }),
      401,
      'COFFER_ERR_TIMESTAMP_SKEW',
    );
    // replay: the exact same signed request twice
    const h = await signRequest({
      method: 'POST',
      pathAndQuery: '/v1/archives',
      credential: c.credential(1),
      sign: (m) => xeddsaSign(c.keyPair(1).privateKey, m),
      now: () => ts.clock.t,
    });
    expect((await c.json({ method: 'POST', url: '/v1/archives', headers: h })).status).toBe(204);
    expectError(await c.json({ method: 'POST', url: '/v1/archives', headers: h }), 401, 'COFFER_ERR_REPLAY');
    // replay with a malleated signature: s + q verifies like s (the XEdDSA equation only sees s mod
    // q), so a captured request could be sent once more under a "new" signature; only s < q passes.
    const sig = fromBase64Url(h['x-coffer-signature'] as string);
    let s = 0n;
    for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i] as number);
    s += 2n ** 252n + 27742317777372353535851937790883648493n;
    const malleated = sig.slice();
    for (let i = 32; i < 64; i++) malleated[i] = Number((s >> BigInt(8 * (i - 32))) & 0xffn);
    const canonical = canonicalRequestString({
      method: 'POST',
      pathAndQuery: '/v1/archives',
      timestamp: Number(h['x-coffer-timestamp']),
      bodySha256Hex: await bodyHashHex(new Uint8Array(0)),
      credential: h['x-coffer-credential'] as string,
    });
    expect(xeddsaVerify(c.keyPair(1).publicKey, new TextEncoder().encode(canonical), malleated)).toBe(true);
    expectError(
      await c.json({
        method: 'POST',
        url: '/v1/archives',
        headers: { ...h, 'x-coffer-signature': toBase64Url(malleated) },
      }),
      401,
      'COFFER_ERR_SIGNATURE_INVALID',
    );
    // altered body: signature over one body, another sent
    const body = JSON.stringify({ backupIdPublicKey: toBase64Url(c.keyPair(1).publicKey) });
    const hb = await signRequest({
      method: 'PUT',
      pathAndQuery: '/v1/archives/keys',
      body,
      credential: c.credential(1),
      sign: (m) => xeddsaSign(c.keyPair(1).privateKey, m),
      now: () => ts.clock.t,
    });
    expectError(
      await c.json({
        method: 'PUT',
        url: '/v1/archives/keys',
        headers: { ...hb, 'content-type': 'application/json' },
        payload: `${body} `,
      }),
      401,
      'COFFER_ERR_SIGNATURE_INVALID',
    );
    // altered path/query
    const hq = await signRequest({
      method: 'GET',
      pathAndQuery: '/v1/archives/upload/form?uploadLength=10',
      credential: c.credential(1),
      sign: (m) => xeddsaSign(c.keyPair(1).privateKey, m),
      now: () => ts.clock.t,
    });
    expectError(
      await c.json({ method: 'GET', url: '/v1/archives/upload/form?uploadLength=40000', headers: hq }),
      401,
      'COFFER_ERR_SIGNATURE_INVALID',
    );
    // expired: yesterday's credential three days later
    const y = c.credential(1, -1);
    ts.clock.t += 2 * DAY_SECONDS * 1000 + 1000;
    expectError(
      await c.signed('GET', '/v1/archives', undefined, { credential: y }),
      401,
      'COFFER_ERR_CREDENTIAL_EXPIRED',
    );
    ts.clock.t -= 2 * DAY_SECONDS * 1000 + 1000;
  });

  it('archives: info, refresh, upload form limits, versions, read auth, delete', async () => {
    const info = await c.signed('GET', '/v1/archives');
    expect(info.status).toBe(200);
    expect(info.body.mediaQuotaBytes).toBe(10_000);
    expect((await c.signed('POST', '/v1/archives')).status).toBe(204);
    expectError(
      await c.signed('GET', '/v1/archives/upload/form?uploadLength=50001'),
      413,
      'COFFER_ERR_UPLOAD_TOO_LARGE',
    );
    expectError(
      await c.signed('GET', '/v1/archives/upload/form?uploadLength=0'),
      400,
      'COFFER_ERR_BAD_REQUEST',
    );
    const ra = await c.signed('GET', '/v1/archives/auth/read');
    expectError(
      await c.json({ method: 'GET', url: new URL(ra.body.backupUrl).pathname, headers: ra.body.headers }),
      404,
      'COFFER_ERR_NO_BACKUP',
    );
    expectError(
      await c.json({ method: 'GET', url: new URL(ra.body.backupUrl).pathname }),
      401,
      'COFFER_ERR_READ_TOKEN_INVALID',
    );
    const form = await c.signed('GET', '/v1/archives/upload/form?uploadLength=100');
    const data = randomBytes(100);
    expectError(
      await c.json(await tusReq(c, { 'upload-length': '100' }, data, {})),
      401,
      'COFFER_ERR_UPLOAD_TOKEN_INVALID',
    );
    const up = await tusCreate(c, form.body, data);
    expect(up.statusCode).toBe(201);
    expectError(
      await c.json(await tusReq(c, { ...form.body.headers, 'upload-length': '100' }, data, {})),
      409,
      'COFFER_ERR_UPLOAD_TOKEN_USED',
    );
    const ra2 = await c.signed('GET', '/v1/archives/auth/read');
    const dl = await c.inject({
      method: 'GET',
      url: new URL(ra2.body.backupUrl).pathname,
      headers: ra2.body.headers,
    });
    expect(dl.statusCode).toBe(200);
    expect(dl.rawPayload.equals(data)).toBe(true);
    const rng = await c.json({
      method: 'GET',
      url: new URL(ra2.body.backupUrl).pathname,
      headers: { ...ra2.body.headers, range: 'bytes=500-' },
    });
    expectError(rng, 416, 'COFFER_ERR_RANGE_NOT_SATISFIABLE');
    const versions = await c.signed('GET', '/v1/archives/versions');
    expect(versions.body.versions).toHaveLength(1);
    expectError(
      await c.signed('POST', '/v1/archives/versions/nope/restore'),
      404,
      'COFFER_ERR_VERSION_NOT_FOUND',
    );
    expect(
      (await c.signed('POST', `/v1/archives/versions/${versions.body.versions[0].versionId}/restore`)).status,
    ).toBe(204);
  });

  it('media: form, store (length, gone, quota, bad id), list with cursor, usage, delete, read', async () => {
    expect((await c.setKey(2)).status).toBe(204);
    const m = (method: string, url: string, body?: unknown) => c.signed(method, url, body, { type: 2 });
    expectError(
      await m('GET', '/v1/archives/media/upload/form?uploadLength=200000000'),
      413,
      'COFFER_ERR_UPLOAD_TOO_LARGE',
    );
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const data = randomBytes(1000);
      const form = await m('GET', `/v1/archives/media/upload/form?uploadLength=${data.length}`);
      expect((await tusCreate(c, form.body, data)).statusCode).toBe(201);
      const mediaId = randomBytes(15).toString('base64url');
      if (i === 0) {
        expectError(
          await m('PUT', '/v1/archives/media', {
            sourceUploadId: form.body.uploadId,
            objectLength: 999,
            mediaId,
          }),
          400,
          'COFFER_ERR_SOURCE_LENGTH',
        );
        expectError(
          await m('PUT', '/v1/archives/media', {
            sourceUploadId: form.body.uploadId,
            objectLength: 1000,
            mediaId: 'short',
          }),
          400,
          'COFFER_ERR_INVALID_KEY',
        );
      }
      const st = await m('PUT', '/v1/archives/media', {
        sourceUploadId: form.body.uploadId,
        objectLength: 1000,
        mediaId,
      });
      expect(st.status).toBe(200);
      ids.push(mediaId);
    }
    expectError(
      await m('PUT', '/v1/archives/media', { sourceUploadId: 'gone', objectLength: 1000, mediaId: ids[0] }),
      410,
      'COFFER_ERR_SOURCE_GONE',
    );
    // quota: 10,000 bytes on this free level
    const big = randomBytes(8000);
    const form = await m('GET', `/v1/archives/media/upload/form?uploadLength=${big.length}`);
    await tusCreate(c, form.body, big);
    expectError(
      await m('PUT', '/v1/archives/media', {
        sourceUploadId: form.body.uploadId,
        objectLength: 8000,
        mediaId: randomBytes(15).toString('base64url'),
      }),
      413,
      'COFFER_ERR_QUOTA_EXCEEDED',
    );
    const p1 = await m('GET', '/v1/archives/media?limit=2');
    expect(p1.body.storedMediaObjects).toHaveLength(2);
    const p2 = await m('GET', `/v1/archives/media?limit=2&cursor=${p1.body.cursor}`);
    expect(p2.body.storedMediaObjects).toHaveLength(1);
    expect(p2.body.cursor).toBeUndefined();
    expect(
      [...p1.body.storedMediaObjects, ...p2.body.storedMediaObjects]
        .map((o: { mediaId: string }) => o.mediaId)
        .sort(),
    ).toEqual([...ids].sort());
    expect((await m('GET', '/v1/archives/media/usage')).body).toEqual({
      usedBytes: 3000,
      quotaBytes: 10_000,
      objectCount: 3,
    });
    const ra = await m('GET', '/v1/archives/auth/read');
    const missing = await c.json({
      method: 'GET',
      url: new URL(ra.body.mediaUrlPrefix).pathname + 'A'.repeat(20),
      headers: ra.body.headers,
    });
    expectError(missing, 404, 'COFFER_ERR_BLOB_NOT_FOUND');
    expect(
      (await m('POST', '/v1/archives/media/delete', { mediaToDelete: ids.map((mediaId) => ({ mediaId })) }))
        .status,
    ).toBe(204);
    expect((await m('GET', '/v1/archives/media/usage')).body.usedBytes).toBe(0);
    expect((await m('DELETE', '/v1/archives')).status).toBe(204);
  });

  it('levels: the media tier needs a level with media bytes; admin set-level grants paid', async () => {
    const t2 = await startTestServer({
      levels: { free: { mediaBytes: 0, mediaTtlDays: 0 }, paid: { mediaBytes: 1000, mediaTtlDays: 0 } },
    });
    try {
      const u = TestClient.forServer(t2);
      await u.register(t2.sender);
      await u.fetchCredentials([0]);
      expect((await u.setKey(2)).status).toBe(204);
      expectError(
        await u.signed('GET', '/v1/archives/media/upload/form?uploadLength=10', undefined, { type: 2 }),
        403,
        'COFFER_ERR_LEVEL_INSUFFICIENT',
      );
      await setAccountLevel(t2.server.ctx, u.aci, 201);
      await expect(
        setAccountLevel(t2.server.ctx, '00000000-0000-4000-8000-000000000000', 201),
      ).rejects.toMatchObject({
        code: 'COFFER_ERR_ACCOUNT_NOT_FOUND',
      });
      seen.add('COFFER_ERR_ACCOUNT_NOT_FOUND');
      const me = await u.json({
        method: 'GET',
        url: '/v1/accounts/me',
        headers: { authorization: `Bearer ${u.deviceToken}` },
      });
      expect(me.body.level).toBe(201);
      u.level = 201;
      await u.fetchCredentials([0]);
      expect(
        (await u.signed('GET', '/v1/archives/media/upload/form?uploadLength=10', undefined, { type: 2 }))
          .status,
      ).toBe(200);
    } finally {
      await t2.close();
    }
  });

  it('operator errors: bad config, data folder locked, sender failure, internal error', async () => {
    expect(() => loadConfig({ env: { COFFER_PORT: '99999' } })).toThrow(
      expect.objectContaining({ code: 'COFFER_ERR_CONFIG' }),
    );
    seen.add('COFFER_ERR_CONFIG');
    await expect(
      createCofferServer(loadConfig({ env: {}, overrides: { dataDir: ts.dir } }), {
        logger: false,
        jobs: false,
      }),
    ).rejects.toMatchObject({
      code: 'COFFER_ERR_DATA_DIR_LOCKED',
    });
    seen.add('COFFER_ERR_DATA_DIR_LOCKED');
    const t3 = await startTestServer(
      {},
      { sender: { send: async () => Promise.reject(new Error('smtp down')) } },
    );
    try {
      const u = TestClient.forServer(t3);
      expectError(
        await u.json({ method: 'POST', url: '/v1/verification/sessions', payload: { identifier: 'a@b.cd' } }),
        502,
        'COFFER_ERR_SENDER_FAILED',
      );
      await t3.server.ctx.db.destroy(); // the database goes away under a running server
      expectError(
        await u.json({ method: 'POST', url: '/v1/verification/sessions', payload: { identifier: 'a@b.cd' } }),
        500,
        'COFFER_ERR_INTERNAL',
      );
    } finally {
      await t3.close().catch(() => {});
      fs.rmSync(t3.dir, { recursive: true, force: true });
    }
  });

  it('covers every error code of the server', () => {
    // Covered by their own suites: COFFER_ERR_BLOB_STORE_UNAVAILABLE (S3 driver: test/conformance and
    // test/reliability/outage.test.ts), the outage codes (outage.test.ts: a stopped PostgreSQL, a
    // full disk), @tus/server's answers (tus-errors.test.ts) and COFFER_ERR_OVERLOADED
    // (back-pressure.test.ts).
    const elsewhere = new Set([
      'COFFER_ERR_OVERLOADED',
      'COFFER_ERR_BLOB_STORE_UNAVAILABLE',
      'COFFER_ERR_DATABASE_UNAVAILABLE',
      'COFFER_ERR_STORAGE_FULL',
      'COFFER_ERR_UPLOAD_NOT_FOUND',
      'COFFER_ERR_UPLOAD_OFFSET_CONFLICT',
      'COFFER_ERR_UPLOAD_BUSY',
      'COFFER_ERR_UPLOAD_PROTOCOL',
    ]);
    const missing = Object.keys(ERROR_CODES).filter((code) => !seen.has(code) && !elsewhere.has(code));
    expect(missing).toEqual([]);
  });
});

async function tusReq(_c: TestClient, headers: Record<string, string>, data: Buffer, _o: object) {
  return {
    method: 'POST' as const,
    url: '/v1/uploads',
    headers: { ...headers, 'tus-resumable': '1.0.0', 'content-type': 'application/offset+octet-stream' },
    payload: data,
  };
}
