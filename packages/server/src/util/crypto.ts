// Small Node crypto helpers used across the server.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const b64url = (b: Uint8Array) => Buffer.from(b).toString('base64url');
export const randomId = (bytes = 16) => b64url(randomBytes(bytes));
export const sha256Hex = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

/** HMAC-SHA256 with a purpose label, so one server secret serves several uses without cross-use. */
export function hmacHex(secret: string, label: string, data: string): string {
  return createHmac('sha256', secret).update(label).update('\0').update(data).digest('hex');
}

/** Constant-time comparison of two hex strings (false when lengths differ). */
export function equalHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** spec 6.1: the server keys backups by SHA-256(backupId)[0..16], never the id itself. */
export function backupIdHash(backupId: Uint8Array): string {
  return createHash('sha256').update(backupId).digest().subarray(0, 16).toString('hex');
}
