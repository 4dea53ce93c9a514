// Media names, spec 5.2: the stable name of one attachment in the backup (media) tier.
import { abytes, astring } from './_assert.ts';
import { concatBytes, toHex } from './encoding.ts';

/** mediaName = lowercaseHex(plaintextHash(32) || attachmentKeys(64)): 192 hex characters. spec 5.2 */
export function mediaName(plaintextHash: Uint8Array, attachmentKeys: Uint8Array): string {
  abytes('plaintextHash', plaintextHash, 32);
  abytes('attachmentKeys', attachmentKeys, 64);
  return toHex(concatBytes(plaintextHash, attachmentKeys));
}

/** The name of an attachment's thumbnail: mediaName + "_thumbnail". spec 5.2 */
export function thumbnailMediaName(name: string): string {
  astring('name', name);
  return `${name}_thumbnail`;
}
