import { CofferError, constantTimeEqual, logPaddedSize, type MacAndAesKeys } from '@coffer/crypto';

// Media layers of spec 5.1 (attachment) and 5.3 (backup-tier outer layer), on WebCrypto so it runs
// in Node and browsers alike. (Kept here until @coffer/crypto exports sealAttachment/sealMediaTier;
// the client then switches to those: same bytes.)

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;
const buf = (b: Uint8Array): Uint8Array<ArrayBuffer> => b as Uint8Array<ArrayBuffer>;

async function cbcEncrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await subtle().importKey('raw', buf(key), 'AES-CBC', false, ['encrypt']);
  return new Uint8Array(await subtle().encrypt({ name: 'AES-CBC', iv: buf(iv) }, k, buf(data)));
}

async function cbcDecrypt(key: Uint8Array, iv: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  const k = await subtle().importKey('raw', buf(key), 'AES-CBC', false, ['decrypt']);
  return new Uint8Array(await subtle().decrypt({ name: 'AES-CBC', iv: buf(iv) }, k, buf(data)));
}

async function hmac(key: Uint8Array, ...parts: Uint8Array[]): Promise<Uint8Array> {
  const k = await subtle().importKey('raw', buf(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const len = parts.reduce((n, p) => n + p.length, 0);
  const all = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return new Uint8Array(await subtle().sign('HMAC', k, all));
}

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', buf(data)));
}

/** `IV || AES-256-CBC(aes, IV, data) || HMAC-SHA256(mac, IV || CT)` (spec 5.1 / 5.3). */
async function seal(
  aesKey: Uint8Array,
  macKey: Uint8Array,
  data: Uint8Array,
  rng: (n: number) => Uint8Array,
) {
  const iv = rng(16);
  const ct = await cbcEncrypt(aesKey, iv, data);
  const mac = await hmac(macKey, iv, ct);
  const out = new Uint8Array(16 + ct.length + 32);
  out.set(iv, 0);
  out.set(ct, 16);
  out.set(mac, 16 + ct.length);
  return out;
}

async function open(
  aesKey: Uint8Array,
  macKey: Uint8Array,
  blob: Uint8Array,
  what: string,
): Promise<Uint8Array> {
  if (blob.length < 16 + 16 + 32 || (blob.length - 48) % 16 !== 0) {
    throw new CofferError('COFFER_ERR_MEDIA_FAILED', `A media file (${what}) is truncated.`);
  }
  const iv = blob.subarray(0, 16);
  const ct = blob.subarray(16, blob.length - 32);
  // MAC before decrypt.
  if (!constantTimeEqual(await hmac(macKey, iv, ct), blob.subarray(blob.length - 32))) {
    throw new CofferError('COFFER_ERR_MEDIA_FAILED', `A media file (${what}) failed its integrity check.`);
  }
  return cbcDecrypt(aesKey, iv, ct);
}

const defaultRng = (n: number): Uint8Array => globalThis.crypto.getRandomValues(new Uint8Array(n));

/**
 * Seals media for the backup tier: inner attachment layer with the 64-byte attachment keys
 * (aes = keys[0..32], mac = keys[32..64]; plaintext zero-padded to logPaddedSize unless `pad` is
 * false), then the outer layer with the media key derived from the media id.
 */
export async function sealMediaForBackup(
  plaintext: Uint8Array,
  attachmentKeys: Uint8Array,
  mediaKey: MacAndAesKeys,
  opts: { pad?: boolean; rng?: (n: number) => Uint8Array } = {},
): Promise<Uint8Array> {
  const rng = opts.rng ?? defaultRng;
  let padded = plaintext;
  if (opts.pad !== false) {
    padded = new Uint8Array(logPaddedSize(plaintext.length));
    padded.set(plaintext);
  }
  const inner = await seal(attachmentKeys.subarray(0, 32), attachmentKeys.subarray(32, 64), padded, rng);
  return seal(mediaKey.aesKey, mediaKey.hmacKey, inner, rng);
}

/** Opens a backup-tier media object; with `size`, cuts the padding; with `plaintextHash`, checks it. */
export async function openMediaFromBackup(
  object: Uint8Array,
  attachmentKeys: Uint8Array,
  mediaKey: MacAndAesKeys,
  opts: { size?: number; plaintextHash?: Uint8Array } = {},
): Promise<Uint8Array> {
  const inner = await open(mediaKey.aesKey, mediaKey.hmacKey, object, 'outer layer');
  let plain = await open(
    attachmentKeys.subarray(0, 32),
    attachmentKeys.subarray(32, 64),
    inner,
    'attachment',
  );
  if (opts.size !== undefined) {
    if (opts.size > plain.length)
      throw new CofferError('COFFER_ERR_MEDIA_FAILED', 'A media file is shorter than recorded.');
    plain = plain.subarray(0, opts.size);
  }
  if (opts.plaintextHash && !constantTimeEqual(await sha256(plain), opts.plaintextHash)) {
    throw new CofferError(
      'COFFER_ERR_MEDIA_FAILED',
      'A restored media file does not match its recorded hash.',
    );
  }
  return plain;
}
