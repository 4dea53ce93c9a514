/**
 * Identity verification sessions (ARCHITECTURE "Identity"): a 6-digit code sent to an e-mail address
 * or phone number. Codes expire after 10 minutes, are stored as HMACs and compared in constant time;
 * every comparison first consumes one of the 5 attempts (atomically), so parallel guessing gains
 * nothing; sending is rate-limited per identifier and per client address.
 */
import { randomInt } from 'node:crypto';
import { CofferError } from '@coffer/crypto';
import type { ServerContext } from '../context.ts';
import { num } from '../db/schema.ts';
import { equalHex, hmacHex, randomId } from '../util/crypto.ts';
import { hitRateLimit } from '../util/rate-limit.ts';
import type { CodeSender } from './senders.ts';

export const CODE_LENGTH = 6;

/** Normalises an e-mail (lower-case) or E.164 number; throws COFFER_ERR_IDENTIFIER_INVALID. */
export function normalizeIdentifier(raw: string): { identifier: string; transport: 'email' | 'sms' } {
  const s = raw.trim();
  if (/^\+[1-9][0-9]{6,14}$/.test(s)) return { identifier: s, transport: 'sms' };
  const lower = s.toLowerCase();
  if (/^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/.test(lower) && lower.length <= 254)
    return { identifier: lower, transport: 'email' };
  throw new CofferError(
    'COFFER_ERR_IDENTIFIER_INVALID',
    'enter an e-mail address or a phone number in +E.164 form',
  );
}

export const identifierHash = (ctx: ServerContext, identifier: string) =>
  hmacHex(ctx.secret, 'identifier', identifier);
const codeHash = (ctx: ServerContext, sessionId: string, code: string) =>
  hmacHex(ctx.secret, 'code', `${sessionId}:${code}`);

export async function createSession(
  ctx: ServerContext,
  sender: CodeSender,
  raw: string,
  clientAddress: string,
): Promise<{ sessionId: string; expiresAt: number }> {
  const { identifier, transport } = normalizeIdentifier(raw);
  const idHash = identifierHash(ctx, identifier);
  const now = ctx.now();
  const v = ctx.config.verification;
  await hitRateLimit(
    ctx.db,
    `verify-addr:${hmacHex(ctx.secret, 'address', clientAddress)}`,
    v.perAddress.limit,
    v.perAddress.windowMs,
    now,
  );
  await hitRateLimit(ctx.db, `verify-id:${idHash}`, v.perIdentifier.limit, v.perIdentifier.windowMs, now);
  const sessionId = randomId(18);
  const code = String(randomInt(0, 10 ** CODE_LENGTH)).padStart(CODE_LENGTH, '0');
  const expiresAt = now + v.codeTtlMs;
  await ctx.db
    .insertInto('verification_sessions')
    .values({
      session_id: sessionId,
      identifier_hash: idHash,
      code_hash: codeHash(ctx, sessionId, code),
      state: 'pending',
      attempts: 0,
      created_at: now,
      expires_at: expiresAt,
    })
    .execute();
  try {
    await sender.send({ identifier, transport, code });
  } catch (cause) {
    await ctx.db.deleteFrom('verification_sessions').where('session_id', '=', sessionId).execute();
    ctx.log.warn(
      { sender: ctx.config.verification.sender.kind, err: String(cause).slice(0, 200) },
      'verification sender failed',
    );
    throw new CofferError('COFFER_ERR_SENDER_FAILED', 'the verification code could not be sent; retry later');
  }
  return { sessionId, expiresAt };
}

async function loadSession(ctx: ServerContext, sessionId: string) {
  const s = await ctx.db
    .selectFrom('verification_sessions')
    .selectAll()
    .where('session_id', '=', sessionId)
    .executeTakeFirst();
  if (!s)
    throw new CofferError('COFFER_ERR_SESSION_NOT_FOUND', 'no such verification session; start a new one');
  return s;
}

export async function submitCode(ctx: ServerContext, sessionId: string, code: string): Promise<void> {
  const s = await loadSession(ctx, sessionId);
  const max = ctx.config.verification.maxAttempts;
  if (s.state === 'verified') return;
  if (s.state === 'used')
    throw new CofferError('COFFER_ERR_SESSION_USED', 'this session was already used; start a new one');
  if (s.state === 'locked')
    throw new CofferError('COFFER_ERR_SESSION_LOCKED', 'too many wrong codes; start a new session later');
  if (num(s.expires_at) < ctx.now())
    throw new CofferError('COFFER_ERR_SESSION_EXPIRED', 'the code expired; start a new session');
  // Take an attempt before comparing: concurrent guesses each need their own slot.
  const took = await ctx.db
    .updateTable('verification_sessions')
    .set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('session_id', '=', sessionId)
    .where('state', '=', 'pending')
    .where('attempts', '<', max)
    .returning('attempts')
    .executeTakeFirst();
  if (!took) {
    await lock(ctx, sessionId);
    throw new CofferError('COFFER_ERR_SESSION_LOCKED', 'too many wrong codes; start a new session later');
  }
  if (equalHex(codeHash(ctx, sessionId, code), s.code_hash)) {
    await ctx.db
      .updateTable('verification_sessions')
      .set({ state: 'verified' })
      .where('session_id', '=', sessionId)
      .where('state', '=', 'pending')
      .execute();
    return;
  }
  // Count from the attempt this request took, not a re-read: with concurrent guesses (several
  // processes, or PostgreSQL's parallel transactions) a re-read sees the others' attempts too.
  const remaining = max - took.attempts;
  if (remaining <= 0) {
    await lock(ctx, sessionId);
    throw new CofferError('COFFER_ERR_SESSION_LOCKED', 'too many wrong codes; start a new session later');
  }
  throw new CofferError('COFFER_ERR_CODE_INCORRECT', 'the code is wrong; check it and try again', {
    details: { attemptsRemaining: remaining },
  });
}

async function lock(ctx: ServerContext, sessionId: string): Promise<void> {
  await ctx.db
    .updateTable('verification_sessions')
    .set({ state: 'locked' })
    .where('session_id', '=', sessionId)
    .where('state', '=', 'pending')
    .execute();
}

/** Marks a verified session as used (once) and returns its identifier hash. */
export async function consumeVerifiedSession(ctx: ServerContext, sessionId: string): Promise<string> {
  const s = await loadSession(ctx, sessionId);
  if (s.state === 'used')
    throw new CofferError('COFFER_ERR_SESSION_USED', 'this session was already used; start a new one');
  if (s.state !== 'verified')
    throw new CofferError('COFFER_ERR_SESSION_NOT_VERIFIED', 'submit the code before registering');
  // A verified session stays usable for one more code lifetime.
  if (num(s.expires_at) + ctx.config.verification.codeTtlMs < ctx.now()) {
    throw new CofferError('COFFER_ERR_SESSION_EXPIRED', 'the session expired; start a new one');
  }
  const r = await ctx.db
    .updateTable('verification_sessions')
    .set({ state: 'used' })
    .where('session_id', '=', sessionId)
    .where('state', '=', 'verified')
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1)
    throw new CofferError('COFFER_ERR_SESSION_USED', 'this session was already used');
  return s.identifier_hash;
}
