/**
 * Signed anonymous requests (Coffer's equivalent of spec 6.1 step 3). Every backup-id request carries:
 *   X-Coffer-Credential: base64url(credential)        (see credential.ts)
 *   X-Coffer-Timestamp:  unix seconds (decimal)
 *   X-Coffer-Signature:  base64url(XEdDSA signature, 64 bytes) by the backup-id private key
 * over the canonical string (UTF-8, lines joined by "\n", no trailing newline):
 *   COFFER-SIGNED-REQUEST-V1
 *   <METHOD upper-case>
 *   <path and query exactly as sent, e.g. /v1/archives/media?limit=10>
 *   <timestamp>
 *   <hex SHA-256 of the body bytes (of the empty string when there is no body)>
 *   <credential header value>
 * The server refuses timestamps more than 5 minutes from its clock and any signature it has seen
 * within that window (replay), so a captured request cannot be replayed or altered.
 */
import { sha256, toBase64Url, toHex } from './_bytes.ts';

export const HEADER_CREDENTIAL = 'x-coffer-credential';
export const HEADER_TIMESTAMP = 'x-coffer-timestamp';
export const HEADER_SIGNATURE = 'x-coffer-signature';
export const SIGNED_REQUEST_PREFIX = 'COFFER-SIGNED-REQUEST-V1';
/** Allowed distance between the request timestamp and the server clock. */
export const SIGNATURE_MAX_SKEW_SECONDS = 300;

export interface CanonicalRequest {
  method: string;
  pathAndQuery: string;
  timestamp: number;
  bodySha256Hex: string;
  credential: string;
}

export function canonicalRequestString(r: CanonicalRequest): string {
  return [
    SIGNED_REQUEST_PREFIX,
    r.method.toUpperCase(),
    r.pathAndQuery,
    String(r.timestamp),
    r.bodySha256Hex,
    r.credential,
  ].join('\n');
}

export async function bodyHashHex(body: Uint8Array | string | undefined): Promise<string> {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : (body ?? new Uint8Array(0));
  return toHex(await sha256(bytes));
}

/**
 * Builds the three auth headers for a backup-id request. `sign` is the XEdDSA signature with the
 * backup-id private key, e.g. `(m) => xeddsaSign(keyPair.privateKey, m)` from @coffer/crypto.
 */
export async function signRequest(opts: {
  method: string;
  pathAndQuery: string;
  body?: Uint8Array | string;
  credential: Uint8Array;
  sign: (message: Uint8Array) => Uint8Array | Promise<Uint8Array>;
  now?: () => number;
}): Promise<Record<string, string>> {
  const timestamp = Math.floor((opts.now ?? Date.now)() / 1000);
  const credential = toBase64Url(opts.credential);
  const canonical = canonicalRequestString({
    method: opts.method,
    pathAndQuery: opts.pathAndQuery,
    timestamp,
    bodySha256Hex: await bodyHashHex(opts.body),
    credential,
  });
  const signature = await opts.sign(new TextEncoder().encode(canonical));
  return {
    [HEADER_CREDENTIAL]: credential,
    [HEADER_TIMESTAMP]: String(timestamp),
    [HEADER_SIGNATURE]: toBase64Url(signature),
  };
}
