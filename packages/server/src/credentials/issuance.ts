/**
 * Credential issuance (spec 6.1 step 2, adapted): an authenticated device asks for credentials for
 * day-aligned redemption times from yesterday to today+8, at most 7 days apart, one per day per type,
 * at its account's level. Requests per account per UTC day are limited.
 */
import { CofferError } from '@coffer/crypto';
import type { IssueCredentialsRequest } from '@coffer/protocol';
import { DAY_SECONDS, dayStart, fromBase64Url, MAX_CREDENTIAL_RANGE_DAYS } from '@coffer/protocol';
import type { ServerContext } from '../context.ts';
import type { AuthenticatedDevice } from '../identity/accounts.ts';
import type { CredentialScheme } from './scheme.ts';

export function checkRange(times: number[], nowMs: number): void {
  const today = dayStart(nowMs);
  const bad = (why: string) => new CofferError('COFFER_ERR_CREDENTIAL_RANGE', `credential days: ${why}`);
  for (const t of times) {
    if (!Number.isSafeInteger(t) || t % DAY_SECONDS !== 0)
      throw bad('each must be a UTC day start in seconds');
    if (t < today - DAY_SECONDS || t > today + 8 * DAY_SECONDS) throw bad('from yesterday to today+8 only');
  }
  if (times.length && Math.max(...times) - Math.min(...times) > MAX_CREDENTIAL_RANGE_DAYS * DAY_SECONDS) {
    throw bad('at most 7 days apart');
  }
}

export async function issueCredentials(
  ctx: ServerContext,
  scheme: CredentialScheme,
  device: AuthenticatedDevice,
  body: IssueCredentialsRequest,
) {
  if (body.level !== device.level) {
    throw new CofferError('COFFER_ERR_LEVEL_MISMATCH', 'ask for credentials at the level of your account', {
      details: { accountLevel: device.level },
    });
  }
  const now = ctx.now();
  checkRange(
    body.requests.map((r) => r.redemptionTime),
    now,
  );
  const seen = new Set<string>();
  for (const r of body.requests) {
    const k = `${r.redemptionTime}/${r.type}`;
    if (seen.has(k)) throw new CofferError('COFFER_ERR_CREDENTIAL_RANGE', 'one credential per day per type');
    seen.add(k);
  }
  // Per-account daily limit: counted by (aci, day), never by backup id.
  const day = dayStart(now);
  const inc = await ctx.db
    .insertInto('credential_issuance')
    .values({ aci: device.aci, day, count: 1 })
    .onConflict((oc) =>
      oc
        .columns(['aci', 'day'])
        .doUpdateSet((eb) => ({ count: eb('credential_issuance.count', '+', 1) }))
        .where('credential_issuance.count', '<', ctx.config.credentials.maxRequestsPerDay),
    )
    .executeTakeFirst();
  if (Number(inc.numInsertedOrUpdatedRows ?? 0n) < 1) {
    throw new CofferError(
      'COFFER_ERR_CREDENTIAL_LIMIT',
      'too many credential requests today; retry tomorrow',
    );
  }
  const credentials = [];
  for (const r of body.requests) {
    const blindSignature = await scheme.issue(
      r.redemptionTime,
      body.level,
      r.type,
      fromBase64Url(r.blindedMessage),
    );
    credentials.push({ redemptionTime: r.redemptionTime, type: r.type, level: body.level, blindSignature });
  }
  return credentials;
}
