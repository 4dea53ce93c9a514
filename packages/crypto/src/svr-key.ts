// Keys derived from the svrKey ("master key", spec 1) by HMAC-SHA256 with fixed labels. Not used by
// backups themselves; provided because they come from the same recovery key and have vectors.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { abytes } from './_assert.ts';
import { utf8 } from './encoding.ts';

/** HMAC-SHA256(svrKey, label) for the four labels of spec 1. */
export function deriveSvrSubkeys(svrKey: Uint8Array): {
  readonly registrationLock: Uint8Array;
  readonly registrationRecoveryPassword: Uint8Array;
  readonly storageServiceKey: Uint8Array;
  readonly loggingKey: Uint8Array;
} {
  abytes('svrKey', svrKey, 32);
  const mac = (label: string) => hmac(sha256, svrKey, utf8(label));
  return {
    registrationLock: mac('Registration Lock'),
    registrationRecoveryPassword: mac('Registration Recovery'),
    storageServiceKey: mac('Storage Service Encryption'),
    loggingKey: mac('Logging Key'),
  };
}
