// Property-based fuzzing of every request parser of the server (issue 7): random methods, path
// parameters, query strings, headers (including random credentials, signatures, tokens and tus
// headers) and bodies (JSON values, random bytes, odd content types) through fastify inject. The
// server must never answer 5xx or crash, and every refusal must carry a documented code with its
// documented status. 300 runs per property in CI, 5,000 in the soak profile.
import { ERROR_CODES, ERROR_STATUS, PATHS } from '@coffer/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, TestClient, type TestServer } from '../../packages/server/test/helpers.ts';
import { trials } from '../../test-support/profile.ts';

const runs = trials('request_fuzz', 300, 5000);

const segment = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/),
  fc.constantFrom('..', '%2e%2e', '%00', '%ff', '.', '~', '%E2%80%AE', 'messageBackup', 'a'.repeat(500)),
);
const encodedSegment = segment.map((s) => (/%/.test(s) ? s : encodeURIComponent(s)));
const route = fc.constantFrom(...Object.values(PATHS));
const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS');
const b64 = fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b).toString('base64url'));
const headerValue = fc.oneof(
  fc.string({ maxLength: 80 }).map((s) => s.replace(/[^\x20-\x7e]/g, '')),
  b64,
  fc.integer().map(String),
);
const headers = fc.record(
  {
    'x-coffer-credential': headerValue,
    'x-coffer-timestamp': fc.oneof(headerValue, fc.constant(String(Math.floor(Date.now() / 1000)))),
    'x-coffer-signature': headerValue,
    authorization: fc.oneof(
      headerValue,
      b64.map((t) => `Bearer ${t}`),
    ),
    'tus-resumable': fc.constantFrom('1.0.0', '0.2.2', ''),
    'upload-length': headerValue,
    'upload-offset': headerValue,
    'upload-metadata': headerValue,
    range: fc.oneof(
      headerValue,
      fc.constantFrom('bytes=0-', 'bytes=-5', 'bytes=5-1', 'bytes=0-1,3-4', 'bytes=x'),
    ),
    'content-type': fc.constantFrom(
      'application/json',
      'application/offset+octet-stream',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin1',
    ),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)),
  fc
    .record({
      identifier: fc.oneof(fc.emailAddress(), fc.string()),
      code: fc.stringMatching(/^[0-9]{0,8}$/),
      sessionId: segment,
      backupIdPublicKey: b64,
      sourceUploadId: segment,
      objectLength: fc.oneof(fc.integer(), fc.double()),
      mediaId: segment,
      mediaToDelete: fc.array(fc.record({ mediaId: segment }), { maxLength: 3 }),
      level: fc.integer(),
      requests: fc.array(
        fc.record({ redemptionTime: fc.integer(), type: fc.integer(), blindedMessage: b64 }),
        { maxLength: 3 },
      ),
    })
    .map((o) => JSON.stringify(o)),
);
const query = fc.array(
  fc.tuple(
    fc.constantFrom('uploadLength', 'start', 'end', 'cursor', 'limit', 'version', 'identifier', 'level', 'x'),
    fc.oneof(segment, fc.integer().map(String), fc.double().map(String)),
  ),
  { maxLength: 4 },
);

function checkAnswer(
  where: string,
  r: { statusCode: number; body: string; headers: Record<string, unknown> },
): void {
  // /readyz answers 503 NOT_READY by design (the in-process server never called listen())
  if (
    where.includes(' /readyz') &&
    r.statusCode === 503 &&
    (r.body === '' || r.body.includes('COFFER_ERR_NOT_READY'))
  )
    return;
  expect(r.statusCode, `${where} -> ${r.statusCode} ${r.body.slice(0, 300)}`).toBeLessThan(500);
  if (r.statusCode < 400 || r.body === '') return;
  let code: string | undefined;
  try {
    code = JSON.parse(r.body).error?.code;
  } catch {
    code = undefined;
  }
  expect(
    code && code in ERROR_CODES,
    `${where} -> ${r.statusCode} without a documented code: ${r.body.slice(0, 200)}`,
  ).toBe(true);
  expect(ERROR_STATUS[code as string], `${where}: ${code} with status ${r.statusCode}`).toBe(r.statusCode);
}

describe('request parsers under random input: never 5xx, every refusal coded', () => {
  let ts: TestServer;
  let c: TestClient;
  beforeAll(async () => {
    ts = await startTestServer({ limits: { bodyBytes: 64 * 1024, requestsPerMinutePerAddress: 0 } });
    c = TestClient.forServer(ts);
    await c.register(ts.sender);
    await c.fetchCredentials([0]);
    expect((await c.setKey(1)).status).toBe(204);
  }, 120_000);
  afterAll(async () => {
    await ts.close();
  });

  it(`${runs} random requests to every route`, async () => {
    await fc.assert(
      fc.asyncProperty(
        route,
        method,
        fc.array(encodedSegment, { minLength: 3, maxLength: 3 }),
        query,
        headers,
        body,
        async (r, m, params, q, h, b) => {
          let i = 0;
          const pathname = r.replace(/:[A-Za-z]+/g, () => params[i++ % params.length] as string);
          const qs = q.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
          const url = qs ? `${pathname}?${qs}` : pathname;
          const res = await ts.server.app.inject({
            method: m as 'GET',
            url,
            headers: h as Record<string, string>,
            ...(b === undefined || m === 'GET' || m === 'HEAD' ? {} : { payload: b }),
          });
          checkAnswer(`${m} ${url}`, res);
        },
      ),
      { numRuns: runs },
    );
  }, 600_000);

  it(`${runs} validly signed requests with random bodies and queries (past the signature check)`, async () => {
    const anonRoutes: [string, string, number][] = [
      ['PUT', PATHS.archiveKeys, 1],
      ['GET', PATHS.archive, 1],
      ['POST', PATHS.archive, 1],
      ['GET', PATHS.archiveUploadForm, 1],
      ['GET', PATHS.archiveVersions, 1],
      ['POST', '/v1/archives/versions/:versionId/restore', 1],
      ['GET', PATHS.archiveReadAuth, 1],
      ['GET', PATHS.media, 1],
      ['PUT', PATHS.media, 1],
      ['POST', PATHS.mediaDelete, 1],
      ['GET', PATHS.mediaUsage, 1],
      ['GET', PATHS.mediaUploadForm, 1],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...anonRoutes),
        encodedSegment,
        query,
        body,
        async ([m, r, type], p, q, b) => {
          const pathname = r.replace(/:[A-Za-z]+/g, p);
          const qs = q.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
          const url = qs ? `${pathname}?${qs}` : pathname;
          const payload =
            b === undefined || m === 'GET' ? undefined : typeof b === 'string' ? safeJson(b) : undefined;
          const res = await c.signed(m, url, payload, { type });
          checkAnswer(`${m} ${url}`, {
            statusCode: res.status,
            body: JSON.stringify(res.body ?? ''),
            headers: res.headers,
          });
        },
      ),
      { numRuns: runs },
    );
  }, 600_000);
});

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
