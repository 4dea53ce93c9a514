// Encoding helpers: round trips, agreement with Node's Buffer codecs, strict rejection with a
// CofferError (never another exception) for malformed input; constantTimeEqual; sha256.
import { createHash, randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertyRuns } from '../../../test-support/profile.ts';
import {
  bytesToUuid,
  CofferError,
  concatBytes,
  constantTimeEqual,
  fromBase64,
  fromBase64Url,
  fromHex,
  mediaName,
  sha256,
  thumbnailMediaName,
  toBase64,
  toBase64Url,
  toHex,
  uuidToBytes,
} from '../src/index.ts';

const bytes = fc.uint8Array({ maxLength: 300 });

function decodesOrCofferError(
  decode: (s: string) => Uint8Array,
  encode: (b: Uint8Array) => string,
  s: string,
) {
  try {
    // Whatever decodes must be the canonical encoding of what it decoded to.
    expect(encode(decode(s)).toLowerCase()).toBe(s.toLowerCase());
  } catch (err) {
    if (!(err instanceof CofferError)) throw err;
    expect(['COFFER_ERR_BAD_ENCODING', 'COFFER_ERR_BAD_UUID']).toContain(err.code);
  }
}

describe('hex, base64, base64url', () => {
  it('round-trip and agree with Buffer', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        const buf = Buffer.from(b);
        expect(toHex(b)).toBe(buf.toString('hex'));
        expect(toBase64(b)).toBe(buf.toString('base64'));
        expect(toBase64Url(b)).toBe(buf.toString('base64url'));
        expect(fromHex(toHex(b))).toEqual(b);
        expect(fromHex(toHex(b).toUpperCase())).toEqual(b);
        expect(fromBase64(toBase64(b))).toEqual(b);
        expect(fromBase64Url(toBase64Url(b))).toEqual(b);
      }),
      { numRuns: propertyRuns(500) },
    );
  });

  it('large inputs (chunked conversion)', () => {
    const big = new Uint8Array(200_000).map((_, i) => i * 7);
    expect(fromBase64(toBase64(big))).toEqual(big);
    expect(toBase64(big)).toBe(Buffer.from(big).toString('base64'));
  });

  it('malformed strings give COFFER_ERR_BAD_ENCODING, never another exception', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        decodesOrCofferError(fromHex, toHex, s);
        decodesOrCofferError(fromBase64, toBase64, s);
        decodesOrCofferError(fromBase64Url, toBase64Url, s);
      }),
      { numRuns: propertyRuns(1000) },
    );
    for (const [decode, s] of [
      [fromHex, 'abc'],
      [fromHex, 'zz'],
      [fromHex, '0x00'],
      [fromBase64, 'AA'],
      [fromBase64, 'AB=='], // non-canonical trailing bits
      [fromBase64, 'A-=='],
      [fromBase64, 'AA==\n'],
      [fromBase64Url, 'AA=='],
      [fromBase64Url, 'A'],
      [fromBase64Url, 'AB'],
      [fromBase64Url, 'A+'],
    ] as const) {
      expect(() => decode(s), s).toThrow(expect.objectContaining({ code: 'COFFER_ERR_BAD_ENCODING' }));
    }
  });

  it('wrong types are TypeErrors', () => {
    expect(() => toHex('00' as never)).toThrow(TypeError);
    expect(() => fromHex(new Uint8Array(1) as never)).toThrow(TypeError);
    expect(() => toBase64([1, 2] as never)).toThrow(TypeError);
    expect(() => concatBytes(new Uint8Array(1), null as never)).toThrow(TypeError);
  });
});

describe('UUIDs', () => {
  it('round-trip random UUIDs; upper case accepted, output lower case', () => {
    for (let i = 0; i < 200; i++) {
      const u = randomUUID();
      const b = uuidToBytes(u.toUpperCase());
      expect(toHex(b)).toBe(u.replace(/-/g, ''));
      expect(bytesToUuid(b)).toBe(u);
    }
  });

  it('reject anything but 8-4-4-4-12 hex with COFFER_ERR_BAD_UUID', () => {
    for (const s of [
      '',
      '11111111111111111111111111111111',
      '{11111111-1111-1111-1111-111111111111}',
      '1111111-11111-1111-1111-111111111111',
      '11111111-1111-1111-1111-11111111111g',
    ]) {
      expect(() => uuidToBytes(s), s).toThrow(expect.objectContaining({ code: 'COFFER_ERR_BAD_UUID' }));
    }
    expect(() => bytesToUuid(new Uint8Array(17))).toThrow(RangeError);
  });
});

describe('constantTimeEqual', () => {
  it('equals byte-wise equality', () => {
    fc.assert(
      fc.property(bytes, bytes, fc.nat(), (a, b, i) => {
        expect(constantTimeEqual(a, b)).toBe(Buffer.from(a).equals(Buffer.from(b)));
        expect(constantTimeEqual(a, a.slice())).toBe(true);
        if (a.length > 0) {
          const c = a.slice();
          c[i % c.length] = (c[i % c.length] as number) ^ 1;
          expect(constantTimeEqual(a, c)).toBe(false);
        }
      }),
    );
    expect(() => constantTimeEqual('a' as never, new Uint8Array())).toThrow(TypeError);
  });
});

describe('sha256 and media names (spec 5.2)', () => {
  it('sha256 agrees with node:crypto', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        expect(toHex(sha256(b))).toBe(createHash('sha256').update(b).digest('hex'));
      }),
    );
  });

  it('mediaName = lowercase hex of plaintextHash || attachment keys (192 characters)', () => {
    const hash = new Uint8Array(32).fill(0xab);
    const keys = Uint8Array.from({ length: 64 }, (_, i) => i);
    const name = mediaName(hash, keys);
    expect(name).toHaveLength(192);
    expect(name).toBe('ab'.repeat(32) + toHex(keys));
    expect(thumbnailMediaName(name)).toBe(`${name}_thumbnail`);
    expect(() => mediaName(hash, keys.subarray(0, 32))).toThrow(RangeError);
    expect(() => mediaName(hash.subarray(1), keys)).toThrow(RangeError);
  });
});
