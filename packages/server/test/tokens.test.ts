import { describe, expect, it } from 'vitest';
import { signToken, verifyToken } from '../src/util/tokens.ts';

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const secret = 'test-secret-for-tokens';
const now = 1_800_000_000_000;

describe('server tokens', () => {
  const token = signToken(secret, { aud: 'upload', exp: now + 60_000, u: 'upload-1', m: 100 });

  it('accepts the token it issued, for its audience, until it expires', () => {
    expect(verifyToken(secret, token, 'upload', now)?.u).toBe('upload-1');
    expect(verifyToken(secret, token, 'read', now)).toBeUndefined();
    expect(verifyToken(secret, token, 'upload', now + 60_001)).toBeUndefined();
    expect(verifyToken('another-secret', token, 'upload', now)).toBeUndefined();
  });

  it('refuses every other spelling of the MAC, including ones that decode to the same bytes', () => {
    const dot = token.indexOf('.');
    const mac = token.slice(dot + 1);
    // A 32-byte MAC is 43 base64url characters; the last one carries 4 data bits and 2 zero bits.
    // Setting those spare bits gives strings a lenient decoder maps to the very same MAC.
    const last = B64URL.indexOf(mac.at(-1)!);
    const variants = [1, 2, 3].map((bits) => `${token.slice(0, -1)}${B64URL[last | bits]}`);
    for (const v of variants) {
      expect(Buffer.from(v.slice(dot + 1), 'base64url').equals(Buffer.from(mac, 'base64url'))).toBe(true);
      expect(verifyToken(secret, v, 'upload', now)).toBeUndefined();
    }
    // Stray characters a lenient decoder would skip, and padding.
    expect(verifyToken(secret, `${token}=`, 'upload', now)).toBeUndefined();
    expect(
      verifyToken(secret, `${token.slice(0, dot + 5)}*${token.slice(dot + 5)}`, 'upload', now),
    ).toBeUndefined();
    // Any single changed character of the body or the MAC.
    for (let i = 0; i < token.length; i++) {
      if (i === dot) continue;
      const c = token[i] === 'A' ? 'Q' : 'A';
      expect(verifyToken(secret, token.slice(0, i) + c + token.slice(i + 1), 'upload', now)).toBeUndefined();
    }
  });
});
