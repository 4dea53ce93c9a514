/**
 * Coverage-guided fuzz target for the server's request parsers (issue 7): the fuzzer's bytes become
 * one HTTP request (route, method, path parameter, query string, credential/token headers, range
 * and tus headers, body) sent through fastify's inject to a real server on an embedded store in a
 * temporary folder. With a flag bit the request is validly signed by a registered client (over the
 * fuzzed method, URL and body), so the fuzzer also reaches the parsers behind the signature check.
 * A finding: a 5xx, a refusal without a documented code or with another status than the code's,
 * or anything thrown. test/security/request-fuzz.test.ts checks the same answers with fast-check.
 */
import { xeddsaSign } from '@coffer/crypto';
import { ERROR_CODES, ERROR_STATUS, PATHS, signRequest } from '@coffer/protocol';
import { startTestServer, TestClient, type TestServer } from '../../packages/server/test/helpers.ts';

interface Ready {
  ts: TestServer;
  client: TestClient;
}
let ready: Promise<Ready> | undefined;

async function start(): Promise<Ready> {
  const ts = await startTestServer({ limits: { bodyBytes: 64 * 1024, requestsPerMinutePerAddress: 0 } });
  const client = TestClient.forServer(ts);
  await client.register(ts.sender);
  await client.fetchCredentials([0]);
  for (const type of [1, 2]) {
    const r = await client.setKey(type);
    if (r.status !== 204) throw new Error(`fuzz server set-up: setKey(${type}) answered ${r.status}`);
  }
  return { ts, client };
}

const ROUTES = Object.values(PATHS);
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'] as const;

/** The request's fields, in input order after the three leading bytes, separated by 0x00. */
function fields(data: Buffer): string[] {
  const out: string[] = [];
  let from = 3;
  for (let i = 0; i < 6; i++) {
    const end = data.indexOf(0, from);
    const stop = end === -1 ? data.length : end;
    out.push(data.toString('latin1', Math.min(from, stop), stop));
    from = stop + 1;
  }
  return out;
}

/** A header value fastify's inject accepts (printable ASCII; inject itself refuses others). */
const headerText = (s: string) => s.replace(/[^\x20-\x7e]/g, '');

function check(where: string, status: number, body: string): void {
  // /readyz answers 503 by design here: the in-process server never called listen()
  if (where.includes(' /readyz') && status === 503) return;
  if (status >= 500) throw new Error(`${where} -> ${status} ${body.slice(0, 300)}`);
  if (status < 400 || body === '') return;
  let code: unknown;
  try {
    code = JSON.parse(body).error?.code;
  } catch {
    code = undefined;
  }
  if (typeof code !== 'string' || !Object.hasOwn(ERROR_CODES, code))
    throw new Error(`${where} -> ${status} without a documented code: ${body.slice(0, 200)}`);
  if (ERROR_STATUS[code] !== status) throw new Error(`${where} -> ${code} with status ${status}`);
}

export async function serverRequests(data: Buffer): Promise<void> {
  if (data.length < 3) return;
  ready ??= start();
  const { ts, client } = await ready;
  const route = ROUTES[(data[0] as number) % ROUTES.length] as string;
  const method = METHODS[(data[1] as number) % METHODS.length] as (typeof METHODS)[number];
  const flags = data[2] as number;
  const [param = '', query = '', credential = '', rangeOrLength = '', metadata = '', body = ''] =
    fields(data);
  const pathname = route.replace(/:[A-Za-z]+/g, () => encodeURIComponent(param));
  const url = query === '' ? pathname : `${pathname}?${query.replace(/[^\x21-\x7e]/g, '')}`;
  const headers: Record<string, string> = {};
  if (flags & 1) headers.authorization = headerText(`Bearer ${credential}`);
  else if (flags & 2) headers['x-coffer-credential'] = headerText(credential);
  if (flags & 4) headers.range = headerText(rangeOrLength);
  if (flags & 8) {
    headers['tus-resumable'] = '1.0.0';
    headers['upload-length'] = headerText(rangeOrLength);
    headers['upload-metadata'] = headerText(metadata);
    headers['upload-offset'] = headerText(metadata);
  }
  if (flags & 16)
    headers['content-type'] = flags & 32 ? 'application/offset+octet-stream' : 'application/json';
  const payload =
    method === 'GET' || method === 'HEAD' || body === '' ? undefined : Buffer.from(body, 'latin1');
  if (flags & 64) {
    // validly signed by the registered client: messages (1) or media (2) credential
    const type = flags & 128 ? 2 : 1;
    const privateKey = client.keyPair(type).privateKey;
    Object.assign(
      headers,
      await signRequest({
        method,
        pathAndQuery: url,
        ...(payload === undefined ? {} : { body: payload }),
        credential: client.credential(type),
        sign: (m) => xeddsaSign(privateKey, m),
        now: () => ts.clock.t,
      }),
    );
  }
  const res = await ts.server.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
  check(`${method} ${url}`, res.statusCode, res.body);
}
