/**
 * Anonymous backup-id authentication (spec 6.1 step 3, Coffer form): a credential for the current
 * window plus an XEdDSA signature by the backup-id key over method, path+query, timestamp, body hash
 * and credential (docs/spec/api.md). Order of checks: decode, clock window, credential signature,
 * type, level, timestamp skew, backup-id key, request signature, and last the replay store (so only
 * authentic requests are remembered).
 */
import { CofferError, isCanonicalXeddsaSignature, xeddsaVerify } from '@coffer/crypto';
import {
  canonicalRequestString,
  credentialTimeStatus,
  decodeCredential,
  fromBase64Url,
  HEADER_CREDENTIAL,
  HEADER_SIGNATURE,
  HEADER_TIMESTAMP,
  type ParsedCredential,
} from '@coffer/protocol';
import type { ServerContext } from '../context.ts';
import type { CredentialScheme } from '../credentials/scheme.ts';
import { rememberSignature } from '../db/replay-store.ts';
import type { BackupsTable } from '../db/schema.ts';
import { backupIdHash, sha256Hex } from '../util/crypto.ts';

export interface AnonRequirement {
  /** 1 messages, 2 media; undefined = either. */
  type?: number;
  /** The endpoint needs a level whose media quota is above zero. */
  needsMedia?: boolean;
  /** PUT /keys: the public key to check against comes from the body. */
  keyFromBody?: Uint8Array;
}

export interface AnonAuth {
  credential: ParsedCredential;
  backupIdHash: string;
  backup: BackupsTable | undefined;
}

const EMPTY = new Uint8Array(0);
type Headers = Record<string, string | string[] | undefined>;
const one = (h: Headers, k: string) => {
  const v = h[k];
  return Array.isArray(v) ? v[0] : v;
};

export function levelConfig(ctx: ServerContext, level: number) {
  return level === 201 ? ctx.config.levels.paid : ctx.config.levels.free;
}

export async function authenticateAnonymous(
  ctx: ServerContext,
  scheme: CredentialScheme,
  req: { method: string; url: string; headers: Headers; rawBody: Uint8Array | undefined },
  need: AnonRequirement,
): Promise<AnonAuth> {
  const credHeader = one(req.headers, HEADER_CREDENTIAL);
  const sigHeader = one(req.headers, HEADER_SIGNATURE);
  const tsHeader = one(req.headers, HEADER_TIMESTAMP);
  if (!credHeader)
    throw new CofferError(
      'COFFER_ERR_CREDENTIAL_MISSING',
      'send X-Coffer-Credential, X-Coffer-Timestamp and X-Coffer-Signature',
    );
  if (!sigHeader || !tsHeader)
    throw new CofferError('COFFER_ERR_SIGNATURE_MISSING', 'send X-Coffer-Timestamp and X-Coffer-Signature');
  let credential: ParsedCredential;
  try {
    credential = decodeCredential(fromBase64Url(credHeader));
  } catch {
    throw new CofferError('COFFER_ERR_CREDENTIAL_MALFORMED', 'the credential header cannot be decoded');
  }
  const now = ctx.now();
  const status = credentialTimeStatus(credential.redemptionTime, now);
  if (status === 'expired')
    throw new CofferError(
      'COFFER_ERR_CREDENTIAL_EXPIRED',
      'the credential is too old; fetch fresh credentials',
    );
  if (status === 'future')
    throw new CofferError('COFFER_ERR_CREDENTIAL_NOT_YET_VALID', 'the credential is for a later day');
  if (!(await scheme.verify(credential))) {
    throw new CofferError('COFFER_ERR_CREDENTIAL_INVALID', 'the credential was not issued by this server');
  }
  if (need.type !== undefined && credential.type !== need.type) {
    throw new CofferError(
      'COFFER_ERR_CREDENTIAL_TYPE',
      `this endpoint needs a ${need.type === 1 ? 'messages' : 'media'} credential`,
    );
  }
  if (need.needsMedia && levelConfig(ctx, credential.level).mediaBytes <= 0) {
    throw new CofferError('COFFER_ERR_LEVEL_INSUFFICIENT', 'your level does not include the media tier');
  }
  const ts = Number(tsHeader);
  if (
    !/^[0-9]{1,12}$/.test(tsHeader) ||
    Math.abs(ts - Math.floor(now / 1000)) > ctx.config.signatures.maxSkewSeconds
  ) {
    throw new CofferError('COFFER_ERR_TIMESTAMP_SKEW', 'the request time is too far from the server clock');
  }
  let signature: Uint8Array;
  try {
    signature = fromBase64Url(sigHeader);
  } catch {
    throw new CofferError('COFFER_ERR_SIGNATURE_INVALID', 'the signature header cannot be decoded');
  }
  const idHash = backupIdHash(credential.backupId);
  const backup = await ctx.db
    .selectFrom('backups')
    .selectAll()
    .where('backup_id_hash', '=', idHash)
    .executeTakeFirst();
  let publicKey: Uint8Array;
  if (backup) {
    publicKey = fromBase64Url(backup.public_key);
    if (need.keyFromBody && Buffer.compare(Buffer.from(need.keyFromBody), Buffer.from(publicKey)) !== 0) {
      throw new CofferError(
        'COFFER_ERR_BACKUP_KEY_CONFLICT',
        'a different public key is already registered for this backup id',
      );
    }
  } else if (need.keyFromBody) {
    publicKey = need.keyFromBody;
  } else {
    throw new CofferError(
      'COFFER_ERR_BACKUP_ID_UNKNOWN',
      'register the backup-id public key first (PUT /v1/archives/keys)',
    );
  }
  const canonical = canonicalRequestString({
    method: req.method,
    pathAndQuery: req.url,
    timestamp: ts,
    // node:crypto on this thread: the protocol's bodyHashHex goes through WebCrypto, an async job on
    // libuv's thread pool per request (a thread hop and a promise for 32 bytes of output).
    bodySha256Hex: sha256Hex(req.rawBody ?? EMPTY),
    credential: credHeader,
  });
  let ok = false;
  try {
    // Only the canonical form (s < q): the replay store below is keyed by the signature, and the
    // verifier alone would also accept s + q, a second valid signature anyone can derive from a
    // captured one and replay once more.
    ok =
      isCanonicalXeddsaSignature(signature) &&
      xeddsaVerify(publicKey, new TextEncoder().encode(canonical), signature);
  } catch {
    ok = false;
  }
  if (!ok)
    throw new CofferError(
      'COFFER_ERR_SIGNATURE_INVALID',
      'the request signature does not verify with the backup-id key',
    );
  // Replay store: each accepted signature once within the timestamp window.
  const fresh = await rememberSignature(
    ctx.db,
    sha256Hex(signature),
    (ts + ctx.config.signatures.maxSkewSeconds + 1) * 1000,
  );
  if (!fresh) {
    throw new CofferError('COFFER_ERR_REPLAY', 'this signed request was already received');
  }
  return { credential, backupIdHash: idHash, backup };
}
