import { describe, expect, it } from 'vitest';
import { bodyHashHex, canonicalRequestString, fromBase64Url, signRequest } from '../src/index.ts';

describe('request signing', () => {
  it('builds the canonical string from method, path, timestamp, body hash and credential', async () => {
    let signed = '';
    const headers = await signRequest({
      method: 'put',
      pathAndQuery: '/v1/archives/keys?x=1',
      body: '{"a":1}',
      credential: new Uint8Array([1, 2, 3]),
      sign: (m) => {
        signed = new TextDecoder().decode(m);
        return new Uint8Array(64).fill(7);
      },
      now: () => 1_700_000_000_123,
    });
    const bodyHash = await bodyHashHex('{"a":1}');
    expect(signed).toBe(
      `COFFER-SIGNED-REQUEST-V1\nPUT\n/v1/archives/keys?x=1\n1700000000\n${bodyHash}\nAQID`,
    );
    expect(signed).toBe(
      canonicalRequestString({
        method: 'PUT',
        pathAndQuery: '/v1/archives/keys?x=1',
        timestamp: 1_700_000_000,
        bodySha256Hex: bodyHash,
        credential: 'AQID',
      }),
    );
    expect(headers['x-coffer-timestamp']).toBe('1700000000');
    expect(fromBase64Url(headers['x-coffer-signature'] ?? '')).toEqual(new Uint8Array(64).fill(7));
    // SHA-256 of the empty body
    expect(await bodyHashHex(undefined)).toBe(
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });
});
