// spec 5.3 step 3: the backup-tier ("media tier") outer layer around an attachment blob:
//   IV'(16) || AES-256-CBC/PKCS#7(mediaKey.aesKey, IV', blob) || HMAC-SHA256(mediaKey.hmacKey, IV' || CT')
// with NO extra padding; stored size = 16*floor((n+16)/16) + 16 + 32 (the server's
// destinationObjectSize). The media key comes from spec 2.1 (hmacKey || aesKey order).
import { abytes } from './_assert.ts';
import { type BackupSource, bytesSource } from './backup-source.ts';
import { constantTimeEqual } from './constant-time.ts';
import { mediaError } from './media-attachment.ts';
import { getPlatform, type Platform } from './platform.ts';
import { _takeRandom, type Rng, randomBytes } from './random.ts';
import { assertSealKey, type SealKey } from './sealed-keys.ts';

/** Size of the outer object for an attachment blob of `n` bytes. */
export function mediaTierSize(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  return 16 * Math.floor((n + 16) / 16) + 16 + 32;
}

export interface MediaTierOptions {
  rng?: Rng;
  platform?: 'node' | 'web';
}

/** Wraps an attachment blob in the outer layer, streaming. */
export async function* sealMediaTier(
  blob: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array,
  mediaKey: SealKey,
  options: MediaTierOptions | Rng = {},
): AsyncGenerator<Uint8Array> {
  const opts: MediaTierOptions = typeof options === 'function' ? { rng: options } : options;
  assertSealKey('mediaKey', mediaKey);
  const iv = opts.rng ? _takeRandom(opts.rng, 16) : randomBytes(16);
  const platform = await getPlatform(opts.platform);
  const mac = platform.hmacSha256(mediaKey.hmacKey);
  const cipher = platform.aesCbcEncrypt(mediaKey.aesKey, iv);
  mac.update(iv);
  yield iv;
  for await (const chunk of blob instanceof Uint8Array ? [blob] : blob) {
    abytes('blob chunk', chunk);
    const ct = await cipher.update(chunk);
    if (ct.length > 0) {
      mac.update(ct);
      yield ct;
    }
  }
  const last = await cipher.final();
  mac.update(last);
  yield last;
  yield mac.digest();
}

/**
 * Removes the outer layer: the outer MAC over the whole object first (pass 1), then decryption
 * (pass 2, MAC'd again). Yields the inner attachment blob, to be opened with `openAttachment`.
 */
export async function* openMediaTier(
  object: BackupSource | Uint8Array,
  mediaKey: SealKey,
  opts: { platform?: 'node' | 'web' } = {},
): AsyncGenerator<Uint8Array> {
  assertSealKey('mediaKey', mediaKey);
  const source = object instanceof Uint8Array ? bytesSource(object) : object;
  const n = source.size;
  if (n < 64 || (n - 48) % 16 !== 0) {
    throw mediaError(
      'COFFER_ERR_MEDIA_TRUNCATED',
      'the backed-up media file is incomplete: download it again',
      {
        size: n,
        layer: 'media tier',
      },
    );
  }
  const platform: Platform = await getPlatform(opts.platform);
  const expected = new Uint8Array(32);
  let o = 0;
  for await (const c of source.read(n - 32, n)) {
    expected.set(c, o);
    o += c.length;
  }
  const mac1 = platform.hmacSha256(mediaKey.hmacKey);
  for await (const c of source.read(0, n - 32)) mac1.update(c);
  if (!constantTimeEqual(mac1.digest(), expected)) {
    throw mediaError(
      'COFFER_ERR_MEDIA_MAC',
      'this backed-up media file could not be verified: the media key does not match or the file is damaged',
      { layer: 'media tier' },
    );
  }
  const mac2 = platform.hmacSha256(mediaKey.hmacKey);
  let decipher: ReturnType<Platform['aesCbcDecrypt']> | undefined;
  let ivBuf = new Uint8Array(0);
  for await (const chunk of source.read(0, n - 32)) {
    mac2.update(chunk);
    let c: Uint8Array = chunk;
    if (decipher === undefined) {
      const need = 16 - ivBuf.length;
      const merged = new Uint8Array(ivBuf.length + Math.min(need, c.length));
      merged.set(ivBuf);
      merged.set(c.subarray(0, need), ivBuf.length);
      ivBuf = merged;
      c = c.subarray(need);
      if (ivBuf.length < 16) continue;
      decipher = platform.aesCbcDecrypt(mediaKey.aesKey, ivBuf);
    }
    if (c.length > 0) {
      const pt = await decipher.update(c);
      if (pt.length > 0) yield pt;
    }
  }
  if (decipher === undefined) throw new Error('unreachable: object shorter than its IV');
  let tail: Uint8Array;
  try {
    tail = await decipher.final();
  } catch (e) {
    throw mediaError(
      'COFFER_ERR_MEDIA_CORRUPT',
      'the backed-up media file decrypted, but its padding is invalid',
      {
        layer: 'media tier',
        cause: String(e),
      },
    );
  }
  if (tail.length > 0) yield tail;
  if (!constantTimeEqual(mac2.digest(), expected)) {
    throw mediaError(
      'COFFER_ERR_MEDIA_MAC',
      'the backed-up media file changed while it was being read: try again',
      {
        layer: 'media tier',
        reason: 'second pass',
      },
    );
  }
}
