import { abytes } from './_assert.ts';

/**
 * Compares two byte arrays without an early exit, so the time taken does not reveal where they
 * first differ (use it for MACs, tags and key checks). Arrays of different lengths are unequal;
 * the length itself is not treated as secret.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  abytes('a', a);
  abytes('b', b);
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}
