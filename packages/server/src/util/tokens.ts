/**
 * Bearer tokens the server issues and later checks itself (upload tokens, read tokens): a JSON
 * payload and an HMAC-SHA256 over it, both base64url. Like Signal's CDN JWTs (spec 6.6) but with no
 * header to negotiate: one algorithm, one key, an audience in the payload.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface TokenPayload {
  aud: 'upload' | 'read';
  exp: number;
  [k: string]: unknown;
}

export function signToken(secret: string, payload: TokenPayload): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  const mac = createHmac('sha256', secret).update(`coffer-token\0${body}`).digest('base64url');
  return `${body}.${mac}`;
}

/** Returns the payload when the token is authentic, of the audience and not expired; otherwise undefined. */
export function verifyToken<T extends TokenPayload>(
  secret: string,
  token: string,
  aud: T['aud'],
  nowMs: number,
): T | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0 || token.length > 4096) return undefined;
  const body = token.slice(0, dot);
  // Compare the MAC as its canonical base64url text, not as decoded bytes: Node's decoder ignores
  // stray characters and trailing bits, so several strings would decode to one valid MAC, and a
  // token must have exactly one spelling (upload tokens are also matched as strings).
  const mac = Buffer.from(token.slice(dot + 1), 'latin1');
  const expected = Buffer.from(
    createHmac('sha256', secret).update(`coffer-token\0${body}`).digest('base64url'),
    'latin1',
  );
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined;
  let payload: T;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T;
  } catch {
    return undefined;
  }
  if (payload.aud !== aud || typeof payload.exp !== 'number' || payload.exp < nowMs) return undefined;
  return payload;
}

export function bearer(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  return m?.[1];
}
