/**
 * Client side of credential scheme 1 (blind RSA, RFC 9474 RSABSSA-SHA384-PSS-Randomized), using
 * `@cloudflare/blindrsa-ts` over WebCrypto, so it runs in Node and browsers alike.
 *
 * Flow: fetch the public keys (GET /v1/credentials/keys), `blindCredentialRequest` per (day, type),
 * send the blinded messages (POST /v1/credentials), `finalizeCredential` each blind signature.
 */
import { RSABSSA } from '@cloudflare/blindrsa-ts';
import { fromBase64Url } from './_bytes.ts';
import { credentialMessage, encodeCredential, preparedCredentialMessage } from './credential.ts';

/** One published credential key: the RSA public key for exactly one (day, level, type). */
export interface CredentialKeyInfo {
  redemptionTime: number;
  level: number;
  type: number;
  /** base64url of the SubjectPublicKeyInfo DER */
  publicKey: string;
}

/** Client-side state kept between blinding and finalizing; never sent to the server. */
export interface BlindCredentialState {
  key: CredentialKeyInfo;
  backupId: Uint8Array;
  prepared: Uint8Array;
  inv: Uint8Array;
}

const suite = () => RSABSSA.SHA384.PSS.Randomized();

async function importKey(key: CredentialKeyInfo): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    'spki',
    fromBase64Url(key.publicKey) as Uint8Array<ArrayBuffer>,
    { name: 'RSA-PSS', hash: 'SHA-384' },
    true,
    ['verify'],
  );
}

/** Blinds a credential request for `backupId` under `key`. */
export async function blindCredentialRequest(
  key: CredentialKeyInfo,
  backupId: Uint8Array,
): Promise<{ blindedMessage: Uint8Array; state: BlindCredentialState }> {
  const s = suite();
  // RFC 9474 4.1: prepare() prefixes 32 random bytes (the randomizer) to the message.
  const prepared = s.prepare(credentialMessage(backupId));
  const { blindedMsg, inv } = await s.blind(await importKey(key), prepared);
  return { blindedMessage: blindedMsg, state: { key, backupId: backupId.slice(), prepared, inv } };
}

/** Unblinds the server's blind signature and returns the credential bytes (throws if it does not verify). */
export async function finalizeCredential(
  state: BlindCredentialState,
  blindSignature: Uint8Array,
): Promise<Uint8Array> {
  const signature = await suite().finalize(
    await importKey(state.key),
    state.prepared,
    blindSignature,
    state.inv,
  );
  return encodeCredential({
    level: state.key.level,
    type: state.key.type,
    redemptionTime: state.key.redemptionTime,
    backupId: state.backupId,
    randomizer: state.prepared.slice(0, 32),
    signature,
  });
}

/** Verifies a finished credential against a published key (what the server checks, minus the clock). */
export async function verifyCredential(
  key: CredentialKeyInfo,
  credential: {
    backupId: Uint8Array;
    randomizer: Uint8Array;
    signature: Uint8Array;
  },
): Promise<boolean> {
  return suite().verify(
    await importKey(key),
    credential.signature,
    preparedCredentialMessage(credential.backupId, credential.randomizer),
  );
}
