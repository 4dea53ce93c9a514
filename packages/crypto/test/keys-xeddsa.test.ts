// XEdDSA unit tests without libsignal (the interoperability checks are in keys-libsignal.test.ts):
// injected randomness, boundary asserts, rejection of malformed signatures and keys.
import { describe, expect, it } from 'vitest';
import {
  clampPrivateKey,
  fromHex,
  isCanonicalXeddsaSignature,
  isSmallOrderPublicKey,
  publicKeyFromPrivate,
  randomBytes,
  toHex,
  xeddsaSign,
  xeddsaVerify,
} from '../src/index.ts';

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const le = (b: Uint8Array) => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
const toLe = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));

describe('xeddsaSign', () => {
  const priv = fromHex('c882d00bb68fff92c5c691ad8626881851d2e54e32e42068096a8ac6d1156d5c');
  const pub = publicKeyFromPrivate(priv);
  const msg = new TextEncoder().encode('backup presentation');

  it('is deterministic given the same 64 random bytes, randomised otherwise', () => {
    const z = randomBytes(64);
    const a = xeddsaSign(priv, msg, () => z);
    const b = xeddsaSign(priv, msg, () => z);
    expect(toHex(a)).toBe(toHex(b));
    expect(toHex(xeddsaSign(priv, msg))).not.toBe(toHex(a));
    expect(xeddsaVerify(pub, msg, a)).toBe(true);
  });

  it('produces canonical s with the top bits clear, as the XEdDSA spec requires', () => {
    for (let i = 0; i < 50; i++) {
      const sig = xeddsaSign(randomBytes(32), randomBytes(i));
      expect(le(sig.subarray(32)) < L).toBe(true);
    }
  });

  it('clamps an unclamped private key: same public key and valid signatures', () => {
    const raw = randomBytes(32);
    raw[0] = (raw[0] as number) | 7;
    raw[31] = (raw[31] as number) | 0x80;
    const sig = xeddsaSign(raw, msg);
    expect(toHex(publicKeyFromPrivate(raw))).toBe(toHex(publicKeyFromPrivate(clampPrivateKey(raw))));
    expect(xeddsaVerify(publicKeyFromPrivate(raw), msg, sig)).toBe(true);
  });

  it('checks its arguments', () => {
    expect(() => xeddsaSign(priv.subarray(1), msg)).toThrow(RangeError);
    expect(() => xeddsaSign('key' as never, msg)).toThrow(TypeError);
    expect(() => xeddsaSign(priv, 'msg' as never)).toThrow(TypeError);
    expect(() => xeddsaSign(priv, msg, () => new Uint8Array(32))).toThrow(RangeError);
  });
});

describe('xeddsaVerify', () => {
  const priv = randomBytes(32);
  const pub = publicKeyFromPrivate(priv);
  const msg = randomBytes(100);
  const sig = xeddsaSign(priv, msg);

  it('rejects every single-bit change of the signature', () => {
    for (let bit = 0; bit < 512; bit++) {
      const bad = sig.slice();
      bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7));
      expect(xeddsaVerify(pub, msg, bad), `bit ${bit}`).toBe(false);
    }
  });

  it('rejects s >= 2^253, wrong lengths, unknown key types and an all-zero key or signature', () => {
    const big = sig.slice();
    big[63] = (big[63] as number) | 0x60;
    expect(xeddsaVerify(pub, msg, big)).toBe(false);
    expect(xeddsaVerify(pub, msg, new Uint8Array(64))).toBe(false);
    expect(xeddsaVerify(pub, msg, concat(sig, new Uint8Array(1)))).toBe(false);
    expect(xeddsaVerify(new Uint8Array(33).fill(0).fill(5, 0, 1), msg, sig)).toBe(false);
    const type6 = pub.slice();
    type6[0] = 6;
    expect(xeddsaVerify(type6, msg, sig)).toBe(false);
    // u = p - 1 (= -1) has no Edwards image.
    const minusOne = toLe(2n ** 255n - 20n);
    expect(xeddsaVerify(minusOne, msg, sig)).toBe(false);
  });

  it('accepts s + q like libsignal does (same malleability as the reference verifier)', () => {
    const s = le(sig.subarray(32)) + L;
    const alt = concat(sig.subarray(0, 32), toLe(s));
    expect(xeddsaVerify(pub, msg, alt)).toBe(s < 2n ** 253n);
    // ... which is why a replay store must only take the canonical form.
    expect(isCanonicalXeddsaSignature(sig)).toBe(true);
    expect(isCanonicalXeddsaSignature(alt)).toBe(false);
  });

  it('isCanonicalXeddsaSignature: s < q decides, the sign bit does not', () => {
    const withS = (s: bigint, signBit = 0) => {
      const out = concat(sig.subarray(0, 32), toLe(s));
      out[63] = (out[63] as number) | (signBit << 7);
      return out;
    };
    expect(isCanonicalXeddsaSignature(withS(0n))).toBe(true);
    expect(isCanonicalXeddsaSignature(withS(L - 1n))).toBe(true);
    expect(isCanonicalXeddsaSignature(withS(L - 1n, 1))).toBe(true);
    expect(isCanonicalXeddsaSignature(withS(L))).toBe(false);
    expect(isCanonicalXeddsaSignature(withS(L, 1))).toBe(false);
    expect(isCanonicalXeddsaSignature(sig.subarray(0, 63))).toBe(false);
    for (let i = 0; i < 50; i++) expect(isCanonicalXeddsaSignature(xeddsaSign(priv, msg))).toBe(true);
  });

  it('checks argument types and the public key length', () => {
    expect(() => xeddsaVerify(pub.subarray(2), msg, sig)).toThrow(RangeError);
    expect(() => xeddsaVerify(pub, 'x' as never, sig)).toThrow(TypeError);
    expect(() => xeddsaVerify(pub, msg, null as never)).toThrow(TypeError);
  });
});

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

describe('isSmallOrderPublicKey', () => {
  const p = 2n ** 255n - 19n;
  it('flags the small-order points in every encoding, never a derived key', () => {
    for (const u of [
      0n,
      1n,
      p - 1n,
      325606250916557431795983626356110631294008115727848805560023387167927233504n,
      39382357235489614581723060781553021112529911719440698176882885853963445705823n,
    ]) {
      expect(isSmallOrderPublicKey(new Uint8Array([5, ...toLe(u)]))).toBe(true);
      expect(isSmallOrderPublicKey(toLe(u | (1n << 255n)))).toBe(true); // top bit is ignored
      if (u + p < 2n ** 255n) expect(isSmallOrderPublicKey(toLe(u + p))).toBe(true); // non-canonical u
    }
    for (let i = 0; i < 100; i++)
      expect(isSmallOrderPublicKey(publicKeyFromPrivate(randomBytes(32)))).toBe(false);
    expect(() => isSmallOrderPublicKey(new Uint8Array(31))).toThrow(RangeError);
  });

  it('the order-8 points really have order 8 (the constants are right)', async () => {
    const { x25519 } = await import('@noble/curves/ed25519.js');
    // X25519 with any clamped scalar (a multiple of 8) maps a small-order point to u = 0, which
    // noble reports as an all-zero shared secret error.
    for (const u of [
      325606250916557431795983626356110631294008115727848805560023387167927233504n,
      39382357235489614581723060781553021112529911719440698176882885853963445705823n,
    ]) {
      expect(() => x25519.getSharedSecret(randomBytes(32), toLe(u))).toThrow();
    }
    expect(() =>
      x25519.getSharedSecret(randomBytes(32), publicKeyFromPrivate(randomBytes(32)).subarray(1)),
    ).not.toThrow();
  });
});
