import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  BACKUP_LEVEL,
  blindCredentialRequest,
  CREDENTIAL_TYPE,
  type CredentialKeyInfo,
  credentialTimeStatus,
  DAY_SECONDS,
  dayStart,
  decodeCredential,
  finalizeCredential,
  toBase64Url,
  verifyCredential,
} from '../src/index.ts';

function serverKey(): { info: CredentialKeyInfo; privateKey: crypto.KeyObject } {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
  const info: CredentialKeyInfo = {
    redemptionTime: dayStart(Date.now()),
    level: BACKUP_LEVEL.FREE,
    type: CREDENTIAL_TYPE.MESSAGES,
    publicKey: toBase64Url(publicKey.export({ type: 'spki', format: 'der' })),
  };
  return { info, privateKey };
}

// The server signs natively (INFRA-NOTES: RSA without padding on the blinded message).
const blindSign = (key: crypto.KeyObject, blinded: Uint8Array) =>
  new Uint8Array(crypto.privateDecrypt({ key, padding: crypto.constants.RSA_NO_PADDING }, blinded));

describe('blind RSA credentials', () => {
  it('round-trips blind -> native sign -> finalize -> verify, and binds the backup id', async () => {
    const { info, privateKey } = serverKey();
    const backupId = crypto.randomBytes(16);
    const { blindedMessage, state } = await blindCredentialRequest(info, backupId);
    const cred = await finalizeCredential(state, blindSign(privateKey, blindedMessage));
    const parsed = decodeCredential(cred);
    expect(parsed.level).toBe(200);
    expect(parsed.type).toBe(1);
    expect(parsed.redemptionTime).toBe(info.redemptionTime);
    expect(Buffer.from(parsed.backupId)).toEqual(backupId);
    expect(await verifyCredential(info, parsed)).toBe(true);
    const other = { ...parsed, backupId: crypto.randomBytes(16) };
    expect(await verifyCredential(info, other)).toBe(false);
    const { info: otherKey } = serverKey();
    expect(await verifyCredential(otherKey, parsed)).toBe(false);
  });

  it('rejects a blind signature from another key at finalize', async () => {
    const { info } = serverKey();
    const { privateKey: wrong } = serverKey();
    const { blindedMessage, state } = await blindCredentialRequest(info, crypto.randomBytes(16));
    // Either the wrong key cannot sign this blinded value at all (it is above its modulus) or the
    // unblinded signature fails finalize's verification; both are refusals.
    await expect(
      (async () => finalizeCredential(state, blindSign(wrong, blindedMessage)))(),
    ).rejects.toThrow();
  });

  it('refuses malformed credentials', () => {
    expect(() => decodeCredential(new Uint8Array(10))).toThrow(RangeError);
    const bad = new Uint8Array(200);
    bad[0] = 9;
    expect(() => decodeCredential(bad)).toThrow(RangeError);
  });

  it('applies the spec 6.1 window', () => {
    const day = dayStart(Date.UTC(2026, 0, 10, 12));
    const at = (s: number) => s * 1000;
    expect(credentialTimeStatus(day, at(day))).toBe('ok');
    expect(credentialTimeStatus(day, at(day - DAY_SECONDS))).toBe('ok');
    expect(credentialTimeStatus(day, at(day - DAY_SECONDS - 1))).toBe('future');
    expect(credentialTimeStatus(day, at(day + 2 * DAY_SECONDS))).toBe('ok');
    expect(credentialTimeStatus(day, at(day + 2 * DAY_SECONDS + 1))).toBe('expired');
  });
});
