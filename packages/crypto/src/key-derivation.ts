// Every key Coffer derives for Signal-compatible backups, spec section 2.1. All are HKDF-SHA256
// (RFC 5869) with an empty salt unless noted (empty salt == 32 zero bytes). The info strings are
// part of the wire format: changing one byte makes every backup unreadable.
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { abytes } from './_assert.ts';
import { concatBytes, utf8, uuidToBytes } from './encoding.ts';
import { parseRecoveryKey } from './recovery-key.ts';

/** The info strings of spec 2.1 (ASCII). Exported for the docs and tests; never change them. */
export const INFO = Object.freeze({
  backupKey: '20240801_SIGNAL_BACKUP_KEY',
  svrKey: '20240801_SIGNAL_SVR_MASTER_KEY',
  backupId: '20241024_SIGNAL_BACKUP_ID:',
  backupIdKeyPair: '20241024_SIGNAL_BACKUP_ID_KEYPAIR:',
  messageBackupKeyLegacy: '20241007_SIGNAL_BACKUP_ENCRYPT_MESSAGE_BACKUP:',
  messageBackupKeyForwardSecrecy: '20250708_SIGNAL_BACKUP_ENCRYPT_MESSAGE_BACKUP:',
  localBackupMetadataKey: '20241011_SIGNAL_LOCAL_BACKUP_METADATA_KEY',
  mediaId: '20241007_SIGNAL_BACKUP_MEDIA_ID:',
  mediaEncryptionKey: '20241007_SIGNAL_BACKUP_ENCRYPT_MEDIA:',
  thumbnailTransitKey: '20241030_SIGNAL_BACKUP_ENCRYPT_THUMBNAIL:',
  svrbPassword: 'Signal Message Backup 20250627:SVR PIN',
  forwardSecrecyTokenKey: 'Signal Message Backup 20250627:BackupForwardSecrecyToken Encryption Key',
});

/** A 64-byte HKDF output split as libsignal does for backup keys: hmacKey first, then aesKey. */
export interface MacAndAesKeys {
  readonly hmacKey: Uint8Array;
  readonly aesKey: Uint8Array;
}

/** An X25519 key pair in libsignal's serialisation. */
export interface BackupIdKeyPair {
  /** 32 bytes, already clamped (what libsignal `PrivateKey.serialize()` returns). */
  readonly privateKey: Uint8Array;
  /** 33 bytes: 0x05 (the Curve25519 key type) || the 32-byte X25519 u-coordinate. */
  readonly publicKey: Uint8Array;
}

/** An ACI as text UUID or as its 16 raw bytes. */
export type Aci = string | Uint8Array;

function _hkdf(ikm: Uint8Array, info: Uint8Array, length: number, salt?: Uint8Array): Uint8Array {
  return hkdf(sha256, ikm, salt, info, length);
}

function _aciBytes(aci: Aci): Uint8Array {
  if (typeof aci === 'string') return uuidToBytes(aci);
  // spec conventions: the 16 raw UUID bytes, NOT libsignal's 17-byte fixed-width form.
  abytes('aci', aci, 16);
  return aci;
}

function _split(k: Uint8Array): MacAndAesKeys {
  // spec 2.1: hmacKey = k[0..32], aesKey = k[32..64] (the reverse of attachment keys, spec 5.1).
  return { hmacKey: k.slice(0, 32), aesKey: k.slice(32, 64) };
}

/** X25519 scalar clamping (spec 2.1 notes): k[0] &= 248; k[31] &= 127; k[31] |= 64. */
export function clampPrivateKey(k: Uint8Array): Uint8Array {
  abytes('privateKey', k, 32);
  const c = k.slice();
  c[0] = (c[0] as number) & 248;
  c[31] = ((c[31] as number) & 127) | 64;
  return c;
}

/** The 33-byte libsignal public key (0x05 || u) of a 32-byte X25519 private key. */
export function publicKeyFromPrivate(privateKey: Uint8Array): Uint8Array {
  abytes('privateKey', privateKey, 32);
  return concatBytes(Uint8Array.of(0x05), x25519.getPublicKey(clampPrivateKey(privateKey)));
}

/**
 * backupKey ("messages backup key") = HKDF(ikm = the 64 ASCII bytes of the recovery key,
 * info = "20240801_SIGNAL_BACKUP_KEY", 32). Accepts any form parseRecoveryKey accepts. spec 2.1
 */
export function deriveBackupKey(recoveryKey: string): Uint8Array {
  return _hkdf(utf8(parseRecoveryKey(recoveryKey)), utf8(INFO.backupKey), 32);
}

/** svrKey ("master key") = HKDF(recovery key ASCII, "20240801_SIGNAL_SVR_MASTER_KEY", 32). spec 1 */
export function deriveSvrKey(recoveryKey: string): Uint8Array {
  return _hkdf(utf8(parseRecoveryKey(recoveryKey)), utf8(INFO.svrKey), 32);
}

/**
 * backupId = HKDF(rootKey, "20241024_SIGNAL_BACKUP_ID:" || aci16, 16). The root is the backupKey
 * for the messages backup id, or the mediaRootBackupKey for the media backup id. spec 2.1
 */
export function deriveBackupId(rootKey: Uint8Array, aci: Aci): Uint8Array {
  abytes('rootKey', rootKey, 32);
  return _hkdf(rootKey, concatBytes(utf8(INFO.backupId), _aciBytes(aci)), 16);
}

/**
 * The backup-id signing key pair: priv = clamp(HKDF(rootKey, "20241024_SIGNAL_BACKUP_ID_KEYPAIR:"
 * || aci16, 32)), pub = 0x05 || X25519(priv, 9). Works for both roots like deriveBackupId. spec 2.1
 */
export function deriveBackupIdKeyPair(rootKey: Uint8Array, aci: Aci): BackupIdKeyPair {
  abytes('rootKey', rootKey, 32);
  const privateKey = clampPrivateKey(
    _hkdf(rootKey, concatBytes(utf8(INFO.backupIdKeyPair), _aciBytes(aci)), 32),
  );
  return { privateKey, publicKey: publicKeyFromPrivate(privateKey) };
}

/**
 * MessageBackupKey, the keys of the sealed backup file (spec 2.1, 3):
 * - legacy (no token): k = HKDF(backupKey, "20241007_SIGNAL_BACKUP_ENCRYPT_MESSAGE_BACKUP:" || backupId, 64)
 * - with a forward-secrecy token: k = HKDF(backupKey, salt = token,
 *   "20250708_SIGNAL_BACKUP_ENCRYPT_MESSAGE_BACKUP:" || backupId, 64)
 * hmacKey = k[0..32], aesKey = k[32..64].
 */
export function deriveMessageBackupKey(
  backupKey: Uint8Array,
  backupId: Uint8Array,
  forwardSecrecyToken?: Uint8Array,
): MacAndAesKeys {
  abytes('backupKey', backupKey, 32);
  abytes('backupId', backupId, 16);
  if (forwardSecrecyToken === undefined) {
    return _split(_hkdf(backupKey, concatBytes(utf8(INFO.messageBackupKeyLegacy), backupId), 64));
  }
  abytes('forwardSecrecyToken', forwardSecrecyToken, 32);
  const info = concatBytes(utf8(INFO.messageBackupKeyForwardSecrecy), backupId);
  return _split(_hkdf(backupKey, info, 64, forwardSecrecyToken));
}

/** Convenience: recovery key + ACI (+ token) straight to the MessageBackupKey. */
export function deriveMessageBackupKeyFromRecoveryKey(
  recoveryKey: string,
  aci: Aci,
  forwardSecrecyToken?: Uint8Array,
): MacAndAesKeys {
  const backupKey = deriveBackupKey(recoveryKey);
  return deriveMessageBackupKey(backupKey, deriveBackupId(backupKey, aci), forwardSecrecyToken);
}

/** localBackupMetadataKey = HKDF(backupKey, "20241011_SIGNAL_LOCAL_BACKUP_METADATA_KEY", 32). spec 2.1 */
export function deriveLocalBackupMetadataKey(backupKey: Uint8Array): Uint8Array {
  abytes('backupKey', backupKey, 32);
  return _hkdf(backupKey, utf8(INFO.localBackupMetadataKey), 32);
}

/**
 * mediaId = HKDF(mediaRootKey, "20241007_SIGNAL_BACKUP_MEDIA_ID:" || utf8(mediaName), 15).
 * On the wire it is unpadded base64url (20 characters). spec 2.1, 5.2
 */
export function deriveMediaId(mediaRootKey: Uint8Array, mediaName: string): Uint8Array {
  abytes('mediaRootKey', mediaRootKey, 32);
  return _hkdf(mediaRootKey, concatBytes(utf8(INFO.mediaId), utf8(mediaName)), 15);
}

/**
 * The backup-tier outer-layer key of one media object: k = HKDF(mediaRootKey,
 * "20241007_SIGNAL_BACKUP_ENCRYPT_MEDIA:" || mediaId, 64); hmacKey = k[0..32], aesKey = k[32..64].
 * For a thumbnail pass the thumbnail's mediaId. spec 2.1, 5.3
 */
export function deriveMediaEncryptionKey(mediaRootKey: Uint8Array, mediaId: Uint8Array): MacAndAesKeys {
  abytes('mediaRootKey', mediaRootKey, 32);
  abytes('mediaId', mediaId, 15);
  return _split(_hkdf(mediaRootKey, concatBytes(utf8(INFO.mediaEncryptionKey), mediaId), 64));
}

/**
 * The thumbnail's transit (inner, attachment) key: k = HKDF(mediaRootKey,
 * "20241030_SIGNAL_BACKUP_ENCRYPT_THUMBNAIL:" || thumbnailMediaId, 64); hmacKey = k[0..32],
 * aesKey = k[32..64]. As attachment keys it is used in the order aesKey || hmacKey
 * ({@link thumbnailAttachmentKeys}). spec 2.1, 5.3 step 5
 */
export function deriveThumbnailTransitKey(
  mediaRootKey: Uint8Array,
  thumbnailMediaId: Uint8Array,
): MacAndAesKeys {
  abytes('mediaRootKey', mediaRootKey, 32);
  abytes('thumbnailMediaId', thumbnailMediaId, 15);
  return _split(_hkdf(mediaRootKey, concatBytes(utf8(INFO.thumbnailTransitKey), thumbnailMediaId), 64));
}

/** The 64-byte attachment keys (aesKey || macKey, spec 5.1) of a thumbnail, from its transit key. */
export function thumbnailAttachmentKeys(mediaRootKey: Uint8Array, thumbnailMediaId: Uint8Array): Uint8Array {
  const k = deriveThumbnailTransitKey(mediaRootKey, thumbnailMediaId);
  return concatBytes(k.aesKey, k.hmacKey);
}

/**
 * SVR-B password for one forward-secrecy share set: HKDF(backupKey, salt = pwSalt,
 * "Signal Message Backup 20250627:SVR PIN", 32). spec 2.1, 7
 */
export function deriveSvrbPassword(backupKey: Uint8Array, pwSalt: Uint8Array): Uint8Array {
  abytes('backupKey', backupKey, 32);
  abytes('pwSalt', pwSalt, 32);
  return _hkdf(backupKey, utf8(INFO.svrbPassword), 32, pwSalt);
}

/**
 * The key that encrypts the forward-secrecy token in the backup header: k = HKDF(backupKey,
 * salt = encSalt, "Signal Message Backup 20250627:BackupForwardSecrecyToken Encryption Key", 64);
 * cipherKey = k[0..32] (AES-256-CTR), hmacKey = k[32..64]. Note the order differs from
 * MacAndAesKeys. spec 2.1, 7
 */
export function deriveForwardSecrecyTokenKey(
  backupKey: Uint8Array,
  encSalt: Uint8Array,
): { readonly cipherKey: Uint8Array; readonly hmacKey: Uint8Array } {
  abytes('backupKey', backupKey, 32);
  abytes('encSalt', encSalt, 32);
  const k = _hkdf(backupKey, utf8(INFO.forwardSecrecyTokenKey), 64, encSalt);
  return { cipherKey: k.slice(0, 32), hmacKey: k.slice(32, 64) };
}
