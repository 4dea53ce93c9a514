/**
 * Accounts and devices. An account is a server-assigned ACI (UUID) bound to the HMAC of its verified
 * identifier; registering again with the same identifier keeps the ACI and signs out every previous
 * device (its token stops working). Backup data is keyed by backup id, never by ACI, so it carries over.
 * Device secrets are 32 random bytes; only their SHA-256 is stored.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { CofferError } from '@coffer/crypto';
import type { ServerContext } from '../context.ts';
import { b64url, equalHex, randomId, sha256Hex } from '../util/crypto.ts';
import { consumeVerifiedSession } from './verification.ts';

export interface AuthenticatedDevice {
  aci: string;
  deviceId: string;
  level: number;
}

export async function registerAccount(ctx: ServerContext, sessionId: string) {
  const idHash = await consumeVerifiedSession(ctx, sessionId);
  const now = ctx.now();
  const deviceId = randomId(16);
  const secret = b64url(randomBytes(32));
  return ctx.db.transaction().execute(async (trx) => {
    const existing = await trx
      .selectFrom('accounts')
      .selectAll()
      .where('identifier_hash', '=', idHash)
      .executeTakeFirst();
    let aci: string;
    let level: number;
    if (existing) {
      aci = existing.aci;
      level = existing.level;
      await trx.deleteFrom('devices').where('aci', '=', aci).execute(); // previous device signed out
    } else {
      aci = randomUUID();
      level = ctx.config.defaultLevel;
      await trx
        .insertInto('accounts')
        .values({ aci, identifier_hash: idHash, level, created_at: now })
        .execute();
    }
    await trx
      .insertInto('devices')
      .values({ device_id: deviceId, aci, secret_hash: sha256Hex(secret), created_at: now })
      .execute();
    return {
      aci,
      deviceId,
      deviceToken: `${deviceId}.${secret}`,
      reregistered: existing !== undefined,
      level,
    };
  });
}

export async function authenticateDevice(
  ctx: ServerContext,
  authorization: string | undefined,
): Promise<AuthenticatedDevice> {
  const m = authorization
    ? /^Bearer\s+([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{43})$/.exec(authorization)
    : null;
  if (!authorization)
    throw new CofferError('COFFER_ERR_AUTH_REQUIRED', 'send Authorization: Bearer <device token>');
  if (!m) throw new CofferError('COFFER_ERR_AUTH_INVALID', 'the device token is malformed');
  const [, deviceId, secret] = m as unknown as [string, string, string];
  const row = await ctx.db
    .selectFrom('devices')
    .innerJoin('accounts', 'accounts.aci', 'devices.aci')
    .select(['devices.secret_hash', 'devices.aci', 'accounts.level'])
    .where('devices.device_id', '=', deviceId)
    .executeTakeFirst();
  // Hash even when the device is unknown, so timing does not reveal which ids exist.
  const hash = sha256Hex(secret);
  if (!row || !equalHex(hash, row.secret_hash)) {
    throw new CofferError(
      'COFFER_ERR_AUTH_INVALID',
      'the device token is wrong or this device was signed out; register again',
    );
  }
  return { aci: row.aci, deviceId, level: row.level };
}

export async function setAccountLevel(
  ctx: Pick<ServerContext, 'db'>,
  aci: string,
  level: number,
): Promise<void> {
  const r = await ctx.db.updateTable('accounts').set({ level }).where('aci', '=', aci).executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1)
    throw new CofferError('COFFER_ERR_ACCOUNT_NOT_FOUND', 'no account with this ACI');
}
