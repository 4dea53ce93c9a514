// Attacks on the API that packages/server/test/api-errors.test.ts does not already cover (that file
// has: missing/malformed/forged/expired/future credentials, wrong type, skew, replay, altered body
// and query, another key's signature, key conflict, 1,000 wrong codes, per-identifier flood, token
// reuse, oversize uploads). Here: small-order backup-id keys (with real forged signatures), another
// account's credential, replay across a restart, enumeration of backup ids and directories, path
// traversal and odd characters in every parameter, huge and malformed bodies, per-identifier limits
// across many client addresses, upload tokens on another upload / another account / past their
// length, and reordered media requests. Each expects a refusal with a documented code and no change:
// the metadata tables and the blob and upload folders are compared before and after.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { isSmallOrderPublicKey, xeddsaSign, xeddsaVerify } from '@coffer/crypto';
import { ERROR_CODES, ERROR_STATUS, signRequest, toBase64Url } from '@coffer/protocol';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, TestClient, type TestServer } from '../../packages/server/test/helpers.ts';

type Answer = { status: number; body: { error?: { code?: string } } | undefined };

function expectRefused(r: Answer, code?: string | string[]): void {
  const got = r.body?.error?.code;
  expect(r.status, JSON.stringify(r.body)).toBeGreaterThanOrEqual(400);
  expect(r.status, JSON.stringify(r.body)).toBeLessThan(500);
  expect(got && got in ERROR_CODES, `undocumented answer ${r.status} ${JSON.stringify(r.body)}`).toBe(true);
  expect(ERROR_STATUS[got as string]).toBe(r.status);
  if (code) expect(Array.isArray(code) ? code : [code]).toContain(got);
}

const VOLATILE = new Set(['seen_signatures', 'rate_limits', 'verification_sessions', 'credential_issuance']);

/** Everything an attack could change: metadata rows (minus counters) and the files on disk. */
async function snapshot(ts: TestServer): Promise<string> {
  const db = ts.server.ctx.db;
  const tables = (await db.introspection.getTables())
    .map((t) => t.name)
    .filter((n) => !VOLATILE.has(n) && !n.startsWith('kysely_'))
    .sort();
  const out: Record<string, unknown> = {};
  for (const t of tables) {
    // biome-ignore lint/suspicious/noExplicitAny: dynamic table names
    const rows = await (db as any).selectFrom(t).selectAll().execute();
    out[t] = rows
      .map((r: unknown) => JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? String(v) : v)))
      .sort();
  }
  const walk = (d: string): string[] =>
    fs.existsSync(d)
      ? fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => {
          const p = path.join(d, e.name);
          return e.isDirectory() ? walk(p) : [`${path.relative(ts.dir, p)}:${fs.statSync(p).size}`];
        })
      : [];
  out.files = walk(ts.dir)
    .filter((f) => !/coffer\.db|\.lock|\.tmp/.test(f))
    .sort();
  return JSON.stringify(out);
}

const toLe = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));

let forged = 0;
/**
 * A signature that verifies under a small-order key for this message, made without any private key
 * (when the search finds one; otherwise random bytes - the key must be refused either way).
 */
function forgeForSmallOrder(pub: Uint8Array, msg: Uint8Array): Uint8Array {
  const Point = ed25519.Point;
  // a random start, so two forgeries never repeat a signature (the replay store would catch that)
  const start = BigInt(`0x${randomBytes(31).toString('hex')}`);
  for (let attempt = 0; attempt < 512; attempt++) {
    const s = (start + BigInt(attempt) * 7919n) % Point.Fn.ORDER;
    const torsion = Point.fromHex(ED25519_TORSION_SUBGROUP[attempt % 8] as string);
    const R = Point.BASE.multiply(s).subtract(torsion).toBytes();
    for (const signBit of [0, 1]) {
      const sBytes = toLe(s);
      sBytes[31] = (sBytes[31] as number) | (signBit << 7);
      const sig = new Uint8Array([...R, ...sBytes]);
      if (xeddsaVerify(pub, msg, sig)) {
        forged++;
        return sig;
      }
    }
  }
  return new Uint8Array(randomBytes(64));
}

describe('API attacks: refused with a documented code, nothing changed', () => {
  let ts: TestServer;
  let a: TestClient;
  let b: TestClient;
  let mediaId: string;
  let backupUrl: string;
  let mediaUrl: string;
  let readHeaders: Record<string, string>;
  let mediaHeaders: Record<string, string>;
  const inject = (o: Parameters<TestClient['inject']>[0]) => a.json(o);

  beforeAll(async () => {
    ts = await startTestServer({
      verification: { devOutbox: true, perIdentifier: { limit: 3, windowMs: 3_600_000 } },
      levels: {
        free: { mediaBytes: 1_000_000, mediaTtlDays: 45 },
        paid: { mediaBytes: 1_000_000, mediaTtlDays: 0 },
      },
    });
    a = TestClient.forServer(ts);
    b = TestClient.forServer(ts);
    for (const c of [a, b]) {
      await c.register(ts.sender);
      await c.fetchCredentials([0, 1]);
      expect((await c.setKey(1)).status).toBe(204);
      expect((await c.setKey(2)).status).toBe(204);
    }
    // a committed backup and a stored media object for `a`
    const data = randomBytes(5000);
    const f = await a.signed('GET', `/v1/archives/upload/form?uploadLength=${data.length}`);
    const created = await a.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: {
        ...f.body.headers,
        'tus-resumable': '1.0.0',
        'upload-length': String(data.length),
        'content-type': 'application/offset+octet-stream',
      },
      payload: data,
    });
    expect(created.statusCode).toBe(201);
    const m = randomBytes(3000);
    const mf = await a.signed('GET', `/v1/archives/media/upload/form?uploadLength=${m.length}`, undefined, {
      type: 2,
    });
    await a.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: {
        ...mf.body.headers,
        'tus-resumable': '1.0.0',
        'upload-length': String(m.length),
        'content-type': 'application/offset+octet-stream',
      },
      payload: m,
    });
    mediaId = randomBytes(15).toString('base64url');
    const st = await a.signed(
      'PUT',
      '/v1/archives/media',
      { sourceUploadId: mf.body.uploadId, objectLength: m.length, mediaId },
      { type: 2 },
    );
    expect(st.status).toBe(200);
    const ra = await a.signed('GET', '/v1/archives/auth/read');
    backupUrl = new URL(ra.body.backupUrl).pathname;
    readHeaders = { authorization: ra.body.headers.Authorization };
    const rm = await a.signed('GET', '/v1/archives/auth/read', undefined, { type: 2 });
    mediaUrl = new URL(rm.body.mediaUrlPrefix).pathname;
    mediaHeaders = { authorization: rm.body.headers.Authorization };
  }, 120_000);
  let reopened: TestServer | undefined; // the server after the restart test, on the same folder
  afterAll(async () => {
    if (!reopened) return ts.close();
    await reopened.server.close();
    fs.rmSync(ts.dir, { recursive: true, force: true });
  });

  it('small-order backup-id public keys are refused even with a signature that verifies', async () => {
    const p = 2n ** 255n - 19n;
    const fresh = TestClient.forServer(ts);
    await fresh.register(ts.sender);
    await fresh.fetchCredentials([0]);
    const before = await snapshot(ts);
    let refusedAsKey = 0;
    for (const u of [
      1n,
      325606250916557431795983626356110631294008115727848805560023387167927233504n,
      39382357235489614581723060781553021112529911719440698176882885853963445705823n,
      p - 1n,
      p + 1n,
    ]) {
      const pub = new Uint8Array([5, ...toLe(u)]);
      expect(isSmallOrderPublicKey(pub)).toBe(true);
      const body = JSON.stringify({ backupIdPublicKey: toBase64Url(pub) });
      const headers = await signRequest({
        method: 'PUT',
        pathAndQuery: '/v1/archives/keys',
        body,
        credential: fresh.credential(1),
        sign: (msg) => forgeForSmallOrder(pub, msg),
        now: () => ts.clock.t,
      });
      const r = await fresh.json({
        method: 'PUT',
        url: '/v1/archives/keys',
        headers: { ...headers, 'content-type': 'application/json' },
        payload: body,
      });
      expectRefused(r, ['COFFER_ERR_BAD_REQUEST', 'COFFER_ERR_SIGNATURE_INVALID']);
      if (r.body?.error?.code === 'COFFER_ERR_BAD_REQUEST') refusedAsKey++;
    }
    expect(
      refusedAsKey,
      'a forged request got past the signature check and was refused for its key',
    ).toBeGreaterThan(0);
    expect(forged, 'at least one request carried a signature that verifies').toBeGreaterThan(0);
    expect(await snapshot(ts)).toBe(before);
  });

  it("another account's credential, or a credential with another backup id's key, is refused", async () => {
    const before = await snapshot(ts);
    // b's credential names b's backup id: a's key does not verify for it
    expectRefused(
      await a.signed('GET', '/v1/archives', undefined, { credential: b.credential(1) }),
      'COFFER_ERR_SIGNATURE_INVALID',
    );
    expectRefused(
      await a.signed('DELETE', '/v1/archives', undefined, { credential: b.credential(1) }),
      'COFFER_ERR_SIGNATURE_INVALID',
    );
    // a's messages key on a's media credential (another backup id)
    expectRefused(
      await a.signed('GET', '/v1/archives/media', undefined, {
        type: 2,
        privateKey: a.keyPair(1).privateKey,
      }),
      'COFFER_ERR_SIGNATURE_INVALID',
    );
    expect(await snapshot(ts)).toBe(before);
  });

  it('a replay is refused after a server restart too (the replay store is persistent)', async () => {
    const h = await signRequest({
      method: 'POST',
      pathAndQuery: '/v1/archives',
      credential: a.credential(1),
      sign: (m) => xeddsaSign(a.keyPair(1).privateKey, m),
      now: () => ts.clock.t,
    });
    expect((await a.json({ method: 'POST', url: '/v1/archives', headers: h })).status).toBe(204);
    const dir = ts.dir;
    const clock = ts.clock.t;
    await ts.server.close();
    const again = await startTestServer({}, { dir });
    again.clock.t = clock;
    try {
      const r = await again.server.app.inject({ method: 'POST', url: '/v1/archives', headers: h });
      expect(r.statusCode).toBe(401);
      expect(JSON.parse(r.body).error.code).toBe('COFFER_ERR_REPLAY');
    } finally {
      await again.server.close();
      // reopen for the remaining tests
      reopened = await startTestServer(
        {
          verification: { devOutbox: true, perIdentifier: { limit: 3, windowMs: 3_600_000 } },
          levels: {
            free: { mediaBytes: 1_000_000, mediaTtlDays: 45 },
            paid: { mediaBytes: 1_000_000, mediaTtlDays: 0 },
          },
        },
        { dir },
      );
      const r = reopened;
      r.clock.t = clock;
      Object.assign(ts, { server: r.server, clock: r.clock, sender: r.sender });
      for (const c of [a, b])
        Object.assign(c, {
          inject: (o: never) => r.server.app.inject(o),
          now: () => r.clock.t,
        });
    }
  });

  it('enumeration: unknown backup ids and directories give no oracle', async () => {
    // a fresh credential for a random backup id (blind issuance cannot tell) -> unknown id
    const probe = TestClient.forServer(ts);
    await probe.register(ts.sender);
    probe.backupKey = randomBytes(32);
    await probe.fetchCredentials([0], undefined, [1]);
    const before = await snapshot(ts);
    expectRefused(await probe.signed('GET', '/v1/archives'), 'COFFER_ERR_BACKUP_ID_UNKNOWN');
    // the read side: an existing directory and a random one answer the same without a valid token
    const randomDir = randomBytes(16).toString('base64url').slice(0, 22);
    const existing = await inject({ method: 'GET', url: backupUrl });
    const missing = await inject({ method: 'GET', url: `/v1/cdn/backups/${randomDir}/messageBackup` });
    expect(existing.status).toBe(missing.status);
    expect(existing.body).toEqual(missing.body);
    expectRefused(existing, 'COFFER_ERR_READ_TOKEN_INVALID');
    // a valid read token for one directory does not open another one
    expectRefused(
      await inject({
        method: 'GET',
        url: `/v1/cdn/backups/${randomDir}/messageBackup`,
        headers: readHeaders,
      }),
      'COFFER_ERR_READ_TOKEN_INVALID',
    );
    const bRead = await b.signed('GET', '/v1/archives/auth/read');
    expectRefused(
      await inject({
        method: 'GET',
        url: backupUrl,
        headers: { authorization: bRead.body.headers.Authorization },
      }),
      'COFFER_ERR_READ_TOKEN_INVALID',
    );
    expect(await snapshot(ts)).toBe(before);
  });

  it('path traversal and odd characters in every path parameter and key', async () => {
    const before = await snapshot(ts);
    const odd = [
      '..',
      '../..',
      '%2e%2e',
      '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '..%2f..%2fcoffer.db',
      '%00',
      'a%00b',
      '%c0%ae%c0%ae',
      '%ff%fe',
      '%E2%80%AE',
      'CON',
      '.%2e',
      `${'A'.repeat(300)}`,
      '~root',
      '%5c..%5c..',
      '*',
      '%20',
      '.lock',
    ];
    const mediaDir = mediaUrl.split('/')[4] as string;
    const backupDir = backupUrl.split('/')[4] as string;
    for (const x of odd) {
      const answers: Answer[] = [
        await inject({
          method: 'PUT',
          url: `/v1/verification/sessions/${x}/code`,
          payload: { code: '123456' },
        }),
        await inject({ method: 'GET', url: `/v1/cdn/backups/${x}/messageBackup`, headers: readHeaders }),
        await inject({ method: 'GET', url: `/v1/cdn/backups/${backupDir}/${x}`, headers: readHeaders }),
        await inject({ method: 'GET', url: `/v1/cdn/media/${mediaDir}/${x}`, headers: mediaHeaders }),
        await inject({ method: 'GET', url: `/v1/cdn/media/${x}/${mediaId}`, headers: mediaHeaders }),
        await inject({ method: 'GET', url: `${backupUrl}?version=${x}`, headers: readHeaders }),
        await a.signed('POST', `/v1/archives/versions/${x}/restore`),
        await a.signed(
          'PUT',
          '/v1/archives/media',
          { sourceUploadId: x, objectLength: 10, mediaId: x },
          { type: 2 },
        ),
        await a.signed('POST', '/v1/archives/media/delete', { mediaToDelete: [{ mediaId: x }] }, { type: 2 }),
        await a.signed('GET', `/v1/archives/media?cursor=${x}`, undefined, { type: 2 }),
      ];
      for (const r of answers) {
        // 2xx is acceptable only where the parameter is a filter (an odd cursor lists nothing)
        if (r.status >= 200 && r.status < 300) continue;
        expectRefused(r);
      }
      const tusHead = await a.inject({
        method: 'HEAD',
        url: `/v1/uploads/${x}`,
        headers: { 'tus-resumable': '1.0.0', authorization: readHeaders.authorization as string },
      });
      expect(tusHead.statusCode).toBeGreaterThanOrEqual(400);
      expect(tusHead.statusCode).toBeLessThan(500);
    }
    expect(await snapshot(ts)).toBe(before);
    // the backup and media are still where they were
    expect((await inject({ method: 'GET', url: backupUrl, headers: readHeaders })).status).toBe(200);
    expect((await inject({ method: 'GET', url: mediaUrl + mediaId, headers: mediaHeaders })).status).toBe(
      200,
    );
  });

  it('huge, deep and malformed bodies and queries', async () => {
    const before = await snapshot(ts);
    const url = '/v1/verification/sessions';
    const bodies: [string, Record<string, string>][] = [
      [JSON.stringify({ identifier: 'x'.repeat(5_000_000) }), { 'content-type': 'application/json' }],
      [`${'['.repeat(50_000)}${']'.repeat(50_000)}`, { 'content-type': 'application/json' }],
      ['{"identifier": "a@example.org"', { 'content-type': 'application/json' }],
      ['\xff\xfe\x00{}', { 'content-type': 'application/json' }],
      ['{"__proto__": {"admin": true}, "identifier": 1}', { 'content-type': 'application/json' }],
      ['identifier=a@example.org', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['<x/>', { 'content-type': 'text/xml' }],
      ['{}', { 'content-type': 'application/json; charset=utf-16' }],
    ];
    for (const [payload, headers] of bodies) {
      const r = await inject({ method: 'POST', url, headers, payload });
      expect(r.status, `${payload.slice(0, 60)} ${JSON.stringify(headers)}`).toBeGreaterThanOrEqual(400);
      expectRefused(r);
    }
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
    for (const q of [
      'uploadLength=-1',
      'uploadLength=1e309',
      'uploadLength=NaN',
      'uploadLength=1&uploadLength=2',
      'uploadLength=99999999999999999999',
      'uploadLength=',
    ]) {
      expectRefused(await a.signed('GET', `/v1/archives/upload/form?${q}`));
    }
    for (const q of ['start=abc&end=1', 'start=1&end=1e400', 'start=-1&end=0', `start=0&end=${2 ** 53}`]) {
      expectRefused(await inject({ method: 'GET', url: `/v1/credentials/keys?${q}` }));
    }
    // a signed request with a body above the limit is refused before any signature work
    const big = { backupIdPublicKey: 'A'.repeat(200_000) };
    expectRefused(await a.signed('PUT', '/v1/archives/keys', big), 'COFFER_ERR_BODY_TOO_LARGE');
    expect(await snapshot(ts)).toBe(before);
  });

  it('verification flooding: one identifier from many addresses stays limited; codes are never echoed', async () => {
    const identifier = `flood-${Date.now()}@example.org`;
    const sent = () => ts.sender.outbox.get(identifier)?.length ?? 0;
    let limited = 0;
    for (let i = 0; i < 40; i++) {
      const r = await a.inject({
        method: 'POST',
        url: '/v1/verification/sessions',
        payload: { identifier },
        remoteAddress: `10.0.${i >> 8}.${i & 255}`,
      });
      if (r.statusCode === 429) {
        limited++;
        expect(JSON.parse(r.body).error.code).toBe('COFFER_ERR_RATE_LIMITED');
        expect(r.headers['retry-after']).toBeDefined();
      } else {
        expect(r.statusCode).toBe(200);
        const code = ts.sender.outbox.get(identifier)?.at(-1)?.code as string;
        expect(r.body).not.toContain(code);
      }
    }
    expect(sent()).toBeLessThanOrEqual(3);
    expect(limited).toBe(40 - sent());
    // many identifiers from one address: the per-address limit (20 per hour by default)
    let perAddress = 0;
    for (let i = 0; i < 30; i++) {
      const r = await a.inject({
        method: 'POST',
        url: '/v1/verification/sessions',
        payload: { identifier: `spray${i}-${Date.now()}@example.org` },
        remoteAddress: '192.0.2.77',
      });
      if (r.statusCode === 429) perAddress++;
      else expect(r.statusCode).toBe(200);
    }
    expect(perAddress).toBeGreaterThanOrEqual(10);
  });

  it('upload tokens: on another upload, from another account, past their length, after completion', async () => {
    const data = randomBytes(2000);
    const fa = (await a.signed('GET', `/v1/archives/upload/form?uploadLength=${data.length}`)).body;
    const fb = (await b.signed('GET', `/v1/archives/upload/form?uploadLength=${data.length}`)).body;
    const tus = (o: {
      method: string;
      id?: string;
      auth: string;
      extra?: Record<string, string>;
      payload?: Buffer;
    }) =>
      a.inject({
        method: o.method as 'POST',
        url: o.id ? `/v1/uploads/${o.id}` : '/v1/uploads',
        headers: {
          authorization: o.auth,
          'tus-resumable': '1.0.0',
          'content-type': 'application/offset+octet-stream',
          ...o.extra,
        },
        ...(o.payload ? { payload: o.payload } : {}),
      });
    // b creates its upload with a partial body
    const created = await tus({
      method: 'POST',
      auth: fb.headers.Authorization,
      extra: { 'upload-length': String(data.length) },
      payload: data.subarray(0, 500),
    });
    expect(created.statusCode).toBe(201);
    const before = await snapshot(ts);
    // a's token on b's upload id: PATCH, HEAD, DELETE
    for (const method of ['PATCH', 'HEAD', 'DELETE']) {
      const r = await tus({
        method,
        id: fb.uploadId,
        auth: fa.headers.Authorization,
        extra: { 'upload-offset': '500' },
        ...(method === 'PATCH' ? { payload: data.subarray(500) } : {}),
      });
      expect(r.statusCode, `${method} with another upload's token`).toBe(401);
      if (method !== 'HEAD') expect(JSON.parse(r.body).error.code).toBe('COFFER_ERR_UPLOAD_TOKEN_INVALID');
    }
    // b's own token, but more bytes than the declared length
    const over = await tus({
      method: 'PATCH',
      id: fb.uploadId,
      auth: fb.headers.Authorization,
      extra: { 'upload-offset': '500' },
      payload: Buffer.concat([data.subarray(500), randomBytes(5000)]),
    });
    expect(over.statusCode).toBeGreaterThanOrEqual(400);
    expect(over.statusCode).toBeLessThan(500);
    // a forged token (b's with one character changed)
    const t = fb.headers.Authorization as string;
    const forged = t.slice(0, -3) + (t.at(-3) === 'A' ? 'B' : 'A') + t.slice(-2);
    const r = await tus({
      method: 'PATCH',
      id: fb.uploadId,
      auth: forged,
      extra: { 'upload-offset': '500' },
      payload: data.subarray(500),
    });
    expect(r.statusCode).toBe(401);
    expect(await snapshot(ts)).toBe(before);
  });

  it('reordered media requests: store before the upload finished, store twice, delete then read', async () => {
    const m = randomBytes(4000);
    const mf = (
      await a.signed('GET', `/v1/archives/media/upload/form?uploadLength=${m.length}`, undefined, { type: 2 })
    ).body;
    // store before any upload exists
    const early = await a.signed(
      'PUT',
      '/v1/archives/media',
      { sourceUploadId: mf.uploadId, objectLength: m.length, mediaId: randomBytes(15).toString('base64url') },
      { type: 2 },
    );
    expectRefused(early, 'COFFER_ERR_SOURCE_GONE');
    // a half-finished upload
    await a.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: {
        ...mf.headers,
        'tus-resumable': '1.0.0',
        'upload-length': String(m.length),
        'content-type': 'application/offset+octet-stream',
      },
      payload: m.subarray(0, 1000),
    });
    const half = await a.signed(
      'PUT',
      '/v1/archives/media',
      { sourceUploadId: mf.uploadId, objectLength: m.length, mediaId: randomBytes(15).toString('base64url') },
      { type: 2 },
    );
    expectRefused(half, ['COFFER_ERR_SOURCE_GONE', 'COFFER_ERR_SOURCE_LENGTH']);
    const usage = (await a.signed('GET', '/v1/archives/media/usage', undefined, { type: 2 })).body;
    // finish, store once, then again under another id: the second is refused, usage counts one
    await a.inject({
      method: 'PATCH',
      url: `/v1/uploads/${mf.uploadId}`,
      headers: {
        ...mf.headers,
        'tus-resumable': '1.0.0',
        'upload-offset': '1000',
        'content-type': 'application/offset+octet-stream',
      },
      payload: m.subarray(1000),
    });
    const id1 = randomBytes(15).toString('base64url');
    const stored = await a.signed(
      'PUT',
      '/v1/archives/media',
      { sourceUploadId: mf.uploadId, objectLength: m.length, mediaId: id1 },
      { type: 2 },
    );
    expect(stored.status, JSON.stringify(stored.body)).toBe(200);
    const twice = await a.signed(
      'PUT',
      '/v1/archives/media',
      { sourceUploadId: mf.uploadId, objectLength: m.length, mediaId: randomBytes(15).toString('base64url') },
      { type: 2 },
    );
    expectRefused(twice, 'COFFER_ERR_SOURCE_GONE');
    const after = (await a.signed('GET', '/v1/archives/media/usage', undefined, { type: 2 })).body;
    expect(after.usedBytes - usage.usedBytes).toBe(m.length);
    expect(after.objectCount - usage.objectCount).toBe(1);
    const readable = await inject({ method: 'GET', url: mediaUrl + id1, headers: mediaHeaders });
    expect(readable.status, JSON.stringify(readable.body)).toBe(200);
    // b cannot delete a's media (its own media list is another directory)
    expect(
      (
        await b.signed(
          'POST',
          '/v1/archives/media/delete',
          { mediaToDelete: [{ mediaId: id1 }] },
          { type: 2 },
        )
      ).status,
    ).toBe(204);
    expect((await inject({ method: 'GET', url: mediaUrl + id1, headers: mediaHeaders })).status).toBe(200);
  });
});
