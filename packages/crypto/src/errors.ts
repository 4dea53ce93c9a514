/**
 * The one error type every Coffer package throws for expected failures.
 *
 * Match errors by `code`, never by `instanceof` (several copies of a package may be loaded, and
 * errors cross process and network boundaries as plain `{code, message}`). Codes are stable:
 * once released a code keeps its meaning. Each package lists its codes, with a one-line
 * description, in an exported `ERROR_CODES` record; docs/errors.md is generated from those lists
 * and a test keeps the two identical.
 */
export class CofferError extends Error {
  /** Stable machine-readable code, such as COFFER_ERR_BACKUP_KEY_MISMATCH. */
  readonly code: string;
  /** Extra facts that help a user or a log reader (never secrets or plaintext). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: string,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CofferError';
    this.code = code;
    this.details = options?.details;
  }
}

/** True when `err` carries the given Coffer error code (works across package copies). */
export function hasErrorCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

/**
 * Every code @coffer/crypto throws, with a one-line description (docs/errors.md is generated from
 * this record). Keep entries sorted by owner block; add, never rename.
 */
export const ERROR_CODES: Record<string, string> = {
  // Recovery key, encodings, identifiers (crypto-keys)
  COFFER_ERR_RECOVERY_KEY_LENGTH:
    'The recovery key does not have 64 letters and digits (details: length given, expected 64).',
  COFFER_ERR_RECOVERY_KEY_CHARACTER:
    'The recovery key contains a character that is not A-Z or 0-9 (details: character, position, group).',
  COFFER_ERR_BAD_ENCODING: 'A hex, base64 or base64url string is malformed (details: encoding).',
  COFFER_ERR_BAD_UUID: 'An account id (ACI) is not a UUID in 8-4-4-4-12 hex form.',
  // Sealed backup stream (crypto-seal, spec 3)
  COFFER_ERR_BACKUP_EMPTY: 'The backup file is empty (0 bytes).',
  COFFER_ERR_BACKUP_TRUNCATED:
    'The backup file is incomplete: shorter than its header, under 64 encrypted bytes, or not whole cipher blocks.',
  COFFER_ERR_BACKUP_KEY_MISMATCH:
    'The HMAC over the file does not match: wrong recovery key or forward-secrecy token, or a damaged file.',
  COFFER_ERR_BACKUP_CORRUPT:
    'The backup file is damaged (details.part: header, padding, gzip or mac): bad header, PKCS#7 padding, gzip data or trailing bytes.',
  // Media (crypto-seal, spec 5)
  COFFER_ERR_MEDIA_TRUNCATED:
    'An attachment or media-tier file is incomplete (under 64 bytes or not whole cipher blocks).',
  COFFER_ERR_MEDIA_MAC:
    'The HMAC of an attachment (details.layer: attachment) or of its media-tier wrapper (media tier) does not match.',
  COFFER_ERR_MEDIA_DIGEST: 'The SHA-256 of the attachment blob differs from the recorded digest.',
  COFFER_ERR_MEDIA_PLAINTEXT_HASH:
    'The SHA-256 of the decrypted attachment differs from the recorded plaintextHash.',
  COFFER_ERR_MEDIA_INCREMENTAL_MAC: 'The incremental MAC of the attachment differs from the recorded one.',
  COFFER_ERR_MEDIA_CORRUPT:
    'An attachment decrypted but is damaged: invalid PKCS#7 padding, non-zero padding, or shorter than its recorded size.',
};
