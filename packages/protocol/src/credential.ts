/**
 * Anonymous backup credentials, scheme 1: blind RSA signatures (RFC 9474, RSABSSA-SHA384-PSS-Randomized).
 *
 * Coffer's replacement for Signal's zk BackupAuthCredential (spec 6.1): an account asks for one
 * credential per day per type; the server signs a blinded message with the RSA key of exactly that
 * (day, level, type), so the key that verifies a credential says what it grants, and the server
 * cannot link the credential it later sees to the request that obtained it.
 *
 * The signed message binds the backup id: msg = "coffer-backup-credential-v1" || backupId(16), and
 * the RFC 9474 "Randomized" variant prefixes 32 random bytes, so each credential is distinct.
 *
 * Wire form (version 1), sent base64url in `X-Coffer-Credential`:
 *   [0]       version = 1 (scheme: blind RSA; a zk scheme would take another version)
 *   [1..3]    level u16 big-endian (200 free, 201 paid; spec 6.2)
 *   [3]       type u8 (1 messages, 2 media; spec 6.2)
 *   [4..12]   redemptionTime u64 big-endian, seconds, UTC-day aligned
 *   [12..28]  backupId (16 bytes, in the clear as in Signal's presentation)
 *   [28..60]  randomizer (32 bytes, RFC 9474 section 4.1 prepare)
 *   [60..]    RSA signature (modulus length)
 */
import { concatBytes } from './_bytes.ts';

export const BACKUP_LEVEL = { FREE: 200, PAID: 201 } as const;
export const CREDENTIAL_TYPE = { MESSAGES: 1, MEDIA: 2 } as const;
export type BackupLevel = (typeof BACKUP_LEVEL)[keyof typeof BACKUP_LEVEL];
export type CredentialType = (typeof CREDENTIAL_TYPE)[keyof typeof CREDENTIAL_TYPE];

export const CREDENTIAL_VERSION_BLIND_RSA = 1;
export const DAY_SECONDS = 86_400;
/** At most this many days between the first and last redemption day of one request (spec 6.1: E - S <= 7 d). */
export const MAX_CREDENTIAL_RANGE_DAYS = 7;
/** Validity window around the redemption day (spec 6.1: redemptionTime - 1 d <= now <= redemptionTime + 2 d). */
export const CREDENTIAL_VALID_BEFORE_SECONDS = DAY_SECONDS;
export const CREDENTIAL_VALID_AFTER_SECONDS = 2 * DAY_SECONDS;

const DOMAIN = new TextEncoder().encode('coffer-backup-credential-v1');
const HEADER_LEN = 60;

export interface ParsedCredential {
  version: number;
  level: number;
  type: number;
  redemptionTime: number;
  backupId: Uint8Array;
  randomizer: Uint8Array;
  signature: Uint8Array;
}

/** The message the RSA signature covers, before RFC 9474 `prepare`: domain || backupId. */
export function credentialMessage(backupId: Uint8Array): Uint8Array {
  if (backupId.length !== 16) throw new RangeError('backupId must be 16 bytes');
  return concatBytes(DOMAIN, backupId);
}

/** The prepared message (randomizer || message) that the RSA-PSS signature verifies over. */
export function preparedCredentialMessage(backupId: Uint8Array, randomizer: Uint8Array): Uint8Array {
  if (randomizer.length !== 32) throw new RangeError('randomizer must be 32 bytes');
  return concatBytes(randomizer, credentialMessage(backupId));
}

export function encodeCredential(c: Omit<ParsedCredential, 'version'>): Uint8Array {
  const out = new Uint8Array(HEADER_LEN + c.signature.length);
  const dv = new DataView(out.buffer);
  out[0] = CREDENTIAL_VERSION_BLIND_RSA;
  dv.setUint16(1, c.level);
  out[3] = c.type;
  dv.setBigUint64(4, BigInt(c.redemptionTime));
  out.set(c.backupId, 12);
  out.set(c.randomizer, 28);
  out.set(c.signature, HEADER_LEN);
  return out;
}

/** Decodes a credential; throws RangeError on a malformed one (the server maps it to COFFER_ERR_CREDENTIAL_MALFORMED). */
export function decodeCredential(bytes: Uint8Array): ParsedCredential {
  if (bytes.length < HEADER_LEN + 64 || bytes.length > HEADER_LEN + 1024)
    throw new RangeError('credential length');
  if (bytes[0] !== CREDENTIAL_VERSION_BLIND_RSA) throw new RangeError('credential version');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const t = dv.getBigUint64(4);
  if (t > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('credential time');
  return {
    version: 1,
    level: dv.getUint16(1),
    type: bytes[3] as number,
    redemptionTime: Number(t),
    backupId: bytes.slice(12, 28),
    randomizer: bytes.slice(28, 60),
    signature: bytes.slice(HEADER_LEN),
  };
}

/** UTC-day start (seconds) of a time in milliseconds. */
export function dayStart(nowMs: number): number {
  return Math.floor(nowMs / 1000 / DAY_SECONDS) * DAY_SECONDS;
}

/** Whether a credential for `redemptionTime` may be spent at `nowMs` (spec 6.1 window). */
export function credentialTimeStatus(redemptionTime: number, nowMs: number): 'ok' | 'expired' | 'future' {
  const now = Math.floor(nowMs / 1000);
  if (now < redemptionTime - CREDENTIAL_VALID_BEFORE_SECONDS) return 'future';
  if (now > redemptionTime + CREDENTIAL_VALID_AFTER_SECONDS) return 'expired';
  return 'ok';
}
