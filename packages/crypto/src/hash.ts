import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { abytes } from './_assert.ts';

/** SHA-256 of `bytes` (synchronous; for the small inputs of key handling and hashing names). */
export function sha256(bytes: Uint8Array): Uint8Array {
  abytes('bytes', bytes);
  return nobleSha256(bytes);
}
