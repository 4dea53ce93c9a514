import {
  bytesSource,
  concatBytes,
  type MacAndAesKeys,
  openAttachment,
  openMediaTier,
  type Rng,
  type SealKey,
  sealAttachment,
  sealMediaTier,
} from '@coffer/crypto';

// Media objects of the backup tier: the attachment layer (spec 5.1) inside the media-tier layer
// (spec 5.3), both from @coffer/crypto. Full files use the attachment layer as specified (log
// padding, plaintext hash and size checked on opening). Thumbnails get the same
// `IV || AES-256-CBC || HMAC` layer without the log padding: their exact length is not recorded in
// the backup, so padding could not be cut off again, and the store compares bytes exactly. That
// unpadded layer is the media-tier construction itself, with the attachment keys as the key.

async function collect(parts: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  for await (const p of parts) out.push(p);
  return concatBytes(...out);
}

/** The 64-byte attachment keys (aes || mac, spec 5.1) as a seal key. */
function attachmentSealKey(keys64: Uint8Array): SealKey {
  return { aesKey: keys64.subarray(0, 32), hmacKey: keys64.subarray(32, 64) };
}

/**
 * Seals media for the backup tier: inner attachment layer with the 64-byte attachment keys
 * (plaintext zero-padded to logPaddedSize unless `pad` is false), then the outer layer with the
 * media key derived from the media id.
 */
export async function sealMediaForBackup(
  plaintext: Uint8Array,
  attachmentKeys: Uint8Array,
  mediaKey: MacAndAesKeys,
  opts: { pad?: boolean; rng?: Rng } = {},
): Promise<Uint8Array> {
  const rng = opts.rng ? { rng: opts.rng } : {};
  const inner =
    opts.pad === false
      ? sealMediaTier(plaintext, attachmentSealKey(attachmentKeys), rng)
      : // The blob only: its digest and plaintext hash would be two SHA-256 passes thrown away
        // (the media name already carries the plaintext hash, spec 5.2).
        sealAttachment(plaintext, attachmentKeys, { ...rng, digest: false, plaintextHash: false }).blob;
  return collect(sealMediaTier(inner, mediaKey, rng));
}

/**
 * Opens a backup-tier media object. Full files need `size` and `plaintextHash` (the padding is cut
 * and checked, and the hash compared); without them the object is opened as an unpadded thumbnail.
 * Throws @coffer/crypto's COFFER_ERR_MEDIA_* codes; every MAC is checked before decryption.
 */
export async function openMediaFromBackup(
  object: Uint8Array,
  attachmentKeys: Uint8Array,
  mediaKey: MacAndAesKeys,
  opts: { size?: number; plaintextHash?: Uint8Array } = {},
): Promise<Uint8Array> {
  if ((opts.size === undefined) !== (opts.plaintextHash === undefined)) {
    throw new TypeError(
      'openMediaFromBackup needs both size and plaintextHash (full file) or neither (thumbnail)',
    );
  }
  const inner = bytesSource(await collect(openMediaTier(object, mediaKey)));
  if (opts.size === undefined || opts.plaintextHash === undefined) {
    return collect(openMediaTier(inner, attachmentSealKey(attachmentKeys)));
  }
  return collect(
    openAttachment(inner, attachmentKeys, { size: opts.size, plaintextHash: opts.plaintextHash }),
  );
}
