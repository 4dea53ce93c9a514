import { abytes, afunction } from './_assert.ts';

/** A source of random bytes: returns exactly `n` fresh bytes. Injectable so tests are exact. */
export type Rng = (n: number) => Uint8Array;

/**
 * CSPRNG bytes from WebCrypto (`globalThis.crypto.getRandomValues`, present in browsers and
 * Node >= 19). getRandomValues fills at most 65536 bytes per call, so larger requests loop.
 */
export function randomBytes(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536)
    globalThis.crypto.getRandomValues(out.subarray(i, Math.min(n, i + 65536)));
  return out;
}

/** Calls an injected rng and checks that it kept its promise (exactly `n` bytes). */
export function _takeRandom(rng: Rng, n: number): Uint8Array {
  afunction('rng', rng);
  const out = rng(n);
  abytes('rng output', out, n);
  return out;
}
