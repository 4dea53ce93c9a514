// Small, strict encoders/decoders. Decoders reject anything that is not the canonical form
// (wrong alphabet, bad padding, odd hex length) with a CofferError: these strings usually come
// from outside (API bodies, files, user input), so a malformed one is an expected failure.
import { abytes, astring } from './_assert.ts';
import { CofferError } from './errors.ts';

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;
const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const B64URL_RE = /^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-]{2,3})?$/;
const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function badEncoding(encoding: string, what: string): CofferError {
  return new CofferError('COFFER_ERR_BAD_ENCODING', `The value is not valid ${encoding}: ${what}.`, {
    details: { encoding },
  });
}

const HEX_BYTE = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Lower-case hex. */
export function toHex(bytes: Uint8Array): string {
  abytes('bytes', bytes);
  let s = '';
  for (const b of bytes) s += HEX_BYTE[b];
  return s;
}

/** Hex (either case, even length, no prefix or separators) to bytes. */
export function fromHex(hex: string): Uint8Array {
  astring('hex', hex);
  if (!HEX_RE.test(hex)) {
    throw badEncoding('hex', hex.length % 2 ? 'odd number of digits' : 'characters other than 0-9 a-f');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function binaryString(bytes: Uint8Array): string {
  let s = '';
  // Chunked so String.fromCharCode never gets too many arguments.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return s;
}

function fromBinaryString(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Standard base64 (RFC 4648 section 4) with padding. */
export function toBase64(bytes: Uint8Array): string {
  abytes('bytes', bytes);
  return btoa(binaryString(bytes));
}

/** Standard base64 with canonical padding; no whitespace, no URL-safe characters. */
export function fromBase64(b64: string): Uint8Array {
  astring('b64', b64);
  if (!B64_RE.test(b64)) throw badEncoding('base64', 'wrong alphabet, length or padding');
  const out = fromBinaryString(atob(b64));
  // Reject non-canonical trailing bits (two encodings of one value would defeat comparisons).
  if (toBase64(out) !== b64) throw badEncoding('base64', 'non-canonical trailing bits');
  return out;
}

/** URL-safe base64 (RFC 4648 section 5) without padding, as Signal uses for media ids. */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** URL-safe base64 without padding (padding is not accepted). */
export function fromBase64Url(b64url: string): Uint8Array {
  astring('b64url', b64url);
  if (!B64URL_RE.test(b64url)) throw badEncoding('base64url', 'wrong alphabet or length');
  const std = b64url.replace(/-/g, '+').replace(/_/g, '/');
  const out = fromBinaryString(atob(std + '='.repeat((4 - (std.length % 4)) % 4)));
  if (toBase64Url(out) !== b64url) throw badEncoding('base64url', 'non-canonical trailing bits');
  return out;
}

/** UTF-8 bytes of a string. */
export function utf8(s: string): Uint8Array {
  astring('s', s);
  return new TextEncoder().encode(s);
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const [i, p] of parts.entries()) {
    abytes(`parts[${i}]`, p);
    n += p.length;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * The 16 raw bytes of a UUID in its 8-4-4-4-12 text form (either case). These are the "ACI bytes"
 * that the key derivations use (spec conventions: Rust `service_id_binary`, no type prefix).
 */
export function uuidToBytes(uuid: string): Uint8Array {
  astring('uuid', uuid);
  if (!UUID_RE.test(uuid)) {
    throw new CofferError(
      'COFFER_ERR_BAD_UUID',
      'The account id is not a UUID (expected 32 hex digits as 8-4-4-4-12, e.g. 11111111-2222-3333-4444-555555555555).',
      { details: { length: uuid.length } },
    );
  }
  return fromHex(uuid.replace(/-/g, ''));
}

/** 16 bytes to the lower-case 8-4-4-4-12 UUID text form. */
export function bytesToUuid(bytes: Uint8Array): string {
  abytes('bytes', bytes, 16);
  const h = toHex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
