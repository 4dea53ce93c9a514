import { createHash, randomBytes } from 'node:crypto';
import {
  deriveMediaEncryptionKey,
  mediaTierSize,
  openAttachment,
  openMediaTier,
  sealAttachmentToBytes,
  sealMediaTier,
} from '@coffer/crypto';
import { describe, expect, it } from 'vitest';
import { openMediaFromBackup, sealMediaForBackup } from '../src/index.ts';

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of it) parts.push(p.slice());
  return new Uint8Array(Buffer.concat(parts));
}

const mediaKey = deriveMediaEncryptionKey(new Uint8Array(32).fill(3), new Uint8Array(15).fill(9));

describe('media sealing (spec 5.1 + 5.3) is byte-compatible with @coffer/crypto', () => {
  for (const size of [0, 1, 540, 541, 4096, 100_003]) {
    it(`size ${size}: ours opens with crypto's openers, and crypto's seal opens with ours`, async () => {
      const plain = new Uint8Array(randomBytes(size));
      const keys = new Uint8Array(randomBytes(64));
      const hash = new Uint8Array(createHash('sha256').update(plain).digest());

      const ours = await sealMediaForBackup(plain, keys, mediaKey);
      const inner = await collect(openMediaTier(ours, mediaKey));
      const back = await collect(openAttachment(inner, keys, { size, plaintextHash: hash }));
      expect(Buffer.from(back).equals(Buffer.from(plain))).toBe(true);

      const theirs = await collect(sealMediaTier((await sealAttachmentToBytes(plain, keys)).blob, mediaKey));
      expect(theirs.length).toBe(ours.length);
      const opened = await openMediaFromBackup(theirs, keys, mediaKey, { size, plaintextHash: hash });
      expect(Buffer.from(opened).equals(Buffer.from(plain))).toBe(true);
    });
  }

  it('refuses a flipped byte (outer MAC) and a wrong plaintext hash', async () => {
    const plain = new Uint8Array(randomBytes(2000));
    const keys = new Uint8Array(randomBytes(64));
    const sealed = await sealMediaForBackup(plain, keys, mediaKey);
    const bad = sealed.slice();
    bad[100]! ^= 1;
    await expect(
      openMediaFromBackup(bad, keys, mediaKey, { size: 2000, plaintextHash: new Uint8Array(32) }),
    ).rejects.toMatchObject({ code: 'COFFER_ERR_MEDIA_MAC', details: { layer: 'media tier' } });
    await expect(
      openMediaFromBackup(sealed, keys, mediaKey, { size: 2000, plaintextHash: new Uint8Array(32) }),
    ).rejects.toMatchObject({ code: 'COFFER_ERR_MEDIA_PLAINTEXT_HASH' });
  });

  it('thumbnails: no log padding, the exact bytes come back, a flipped inner byte is refused', async () => {
    const plain = new Uint8Array(randomBytes(1000));
    const keys = new Uint8Array(randomBytes(64));
    const sealed = await sealMediaForBackup(plain, keys, mediaKey, { pad: false });
    expect(sealed.length).toBe(mediaTierSize(mediaTierSize(plain.length)));
    const back = await openMediaFromBackup(sealed, keys, mediaKey);
    expect(Buffer.from(back).equals(Buffer.from(plain))).toBe(true);
    // Re-wrap a damaged inner layer under a valid outer MAC: the inner MAC must refuse it.
    const inner = await collect(openMediaTier(sealed, mediaKey));
    inner[20]! ^= 1;
    const rewrapped = await collect(sealMediaTier(inner, mediaKey));
    await expect(openMediaFromBackup(rewrapped, keys, mediaKey)).rejects.toMatchObject({
      code: 'COFFER_ERR_MEDIA_MAC',
    });
  });
});
