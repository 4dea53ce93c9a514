import { abytes } from './_assert.ts';

/** The two halves of a MessageBackupKey (spec 2.1), or of a media key: 32 bytes each. */
export interface SealKey {
  readonly hmacKey: Uint8Array;
  readonly aesKey: Uint8Array;
}

export function assertSealKey(name: string, key: unknown): asserts key is SealKey {
  if (typeof key !== 'object' || key === null)
    throw new TypeError(`${name} must be an object {hmacKey, aesKey}`);
  abytes(`${name}.hmacKey`, (key as SealKey).hmacKey, 32);
  abytes(`${name}.aesKey`, (key as SealKey).aesKey, 32);
}
