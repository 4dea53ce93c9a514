/**
 * The anonymous-credential seam (ARCHITECTURE "Anonymity"): one interface, so a zero-knowledge scheme
 * can replace blind RSA later. Issue: the server signs what the client blinded, for one (day, level,
 * type). Verify: the server checks a presented credential and learns its day, level, type and the
 * backup id it was made for, nothing else.
 */
import type { ParsedCredential } from '@coffer/protocol';

export interface CredentialScheme {
  readonly name: string;
  /** Public keys (or params) for the given days and levels, creating them when missing. */
  publicKeys(
    days: number[],
    levels: number[],
    types: number[],
  ): Promise<{ redemptionTime: number; level: number; type: number; publicKey: string }[]>;
  /** Blind-signs one request; throws COFFER_ERR_BAD_REQUEST when the blinded message is not valid for the key. */
  issue(redemptionTime: number, level: number, type: number, blinded: Uint8Array): Promise<Uint8Array>;
  /** True when the credential was issued by this server for its stated (day, level, type). */
  verify(credential: ParsedCredential): Promise<boolean>;
}
