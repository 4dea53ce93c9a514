// The recovery key is Signal's Account Entropy Pool (AEP), spec section 1: 64 characters from
// [0-9a-z]. Its 64 ASCII bytes are the HKDF input of every message-backup key (spec 2.1), so the
// canonical form is exactly what must reach the derivations: lower case, no separators.
import { astring } from './_assert.ts';
import { CofferError } from './errors.ts';
import { _takeRandom, type Rng, randomBytes } from './random.ts';

/** The 36 symbols of a recovery key, in the order used to map random bytes (spec 1). */
export const RECOVERY_KEY_ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyz';
/** Characters in a recovery key. */
export const RECOVERY_KEY_LENGTH = 64;

const CANONICAL_RE = /^[0-9a-z]{64}$/;
// Largest multiple of 36 that fits in a byte: bytes >= 252 are rejected so every symbol is
// equally likely (252 = 7 * 36); a plain `b % 36` would favour the first 4 symbols.
const REJECT_AT = 252;

/**
 * A fresh recovery key: 64 symbols drawn independently and uniformly from [0-9a-z] with a CSPRNG
 * (about 330.9 bits of entropy), by rejection sampling of random bytes. spec 1.
 */
export function generateRecoveryKey(rng: Rng = randomBytes): string {
  let out = '';
  // Each byte is accepted with probability 252/256; 1000 rounds of 96 bytes failing means the
  // injected rng is broken (e.g. constant), not bad luck.
  for (let round = 0; round < 1000; round++) {
    for (const b of _takeRandom(rng, 96)) {
      if (b >= REJECT_AT) continue;
      out += RECOVERY_KEY_ALPHABET[b % 36];
      if (out.length === RECOVERY_KEY_LENGTH) return out;
    }
  }
  throw new Error('rng produced no usable bytes (it returned only values >= 252)');
}

/**
 * True when `key` is a recovery key in canonical form: exactly 64 characters of [0-9a-z].
 * Like libsignal's `AccountEntropyPool.isValid`, upper case and separators are NOT accepted here;
 * use {@link parseRecoveryKey} for what a person typed.
 */
export function isValidRecoveryKey(key: unknown): key is string {
  return typeof key === 'string' && CANONICAL_RE.test(key);
}

/** Separators a person may type or paste between characters: whitespace (any kind) and dashes. */
function isSeparator(ch: string): boolean {
  return /^[\s\u2010-\u2015\u2212-]$/u.test(ch);
}

/**
 * Turns what a person typed or pasted into the canonical recovery key: letters of either case
 * (only ASCII A-Z are folded), spaces, line breaks and dashes anywhere are fine.
 *
 * Throws CofferError:
 * - `COFFER_ERR_RECOVERY_KEY_CHARACTER` for the first character that cannot be part of a key;
 *   `details` = { character, position (1-based, counted in characters of the input), group (1..16
 *   of the display form, or undefined past the end) }.
 * - `COFFER_ERR_RECOVERY_KEY_LENGTH` when the characters left after removing separators are not
 *   64; `details` = { length, expected: 64 }.
 * Neither message nor details contain the key's own characters.
 */
export function parseRecoveryKey(input: string): string {
  astring('input', input);
  if (CANONICAL_RE.test(input)) return input; // fast path: already canonical
  let key = '';
  let position = 0;
  for (const ch of input) {
    position++;
    if (isSeparator(ch)) continue;
    const c = ch >= 'A' && ch <= 'Z' ? ch.toLowerCase() : ch;
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')) {
      key += c;
      continue;
    }
    const index = key.length; // 0-based index of this character within the key
    const group = index < RECOVERY_KEY_LENGTH ? Math.floor(index / 4) + 1 : undefined;
    throw new CofferError(
      'COFFER_ERR_RECOVERY_KEY_CHARACTER',
      `The recovery key contains ${describeChar(ch)} at position ${position}${
        group === undefined ? '' : ` (group ${group} of 16)`
      }, which cannot be part of a recovery key. A recovery key uses only the letters A-Z and the digits 0-9; please check that character.`,
      { details: { character: ch, codePoint: ch.codePointAt(0), position, group } },
    );
  }
  if (key.length !== RECOVERY_KEY_LENGTH) {
    const hint =
      key.length < RECOVERY_KEY_LENGTH
        ? `${RECOVERY_KEY_LENGTH - key.length} ${plural(RECOVERY_KEY_LENGTH - key.length, 'is', 'are')} missing`
        : `${key.length - RECOVERY_KEY_LENGTH} too many`;
    throw new CofferError(
      'COFFER_ERR_RECOVERY_KEY_LENGTH',
      `The recovery key has ${key.length} ${plural(key.length, 'letter or digit', 'letters and digits')} but must have exactly ${RECOVERY_KEY_LENGTH} (${hint}). Spaces and dashes are ignored; please check for a missed or repeated group of 4.`,
      { details: { length: key.length, expected: RECOVERY_KEY_LENGTH } },
    );
  }
  return key;
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

function describeChar(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  // Printable characters are shown; control and invisible ones only by code point.
  return /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(ch)
    ? `the character "${ch}" (${hex})`
    : `an invisible character (${hex})`;
}

/**
 * The display form: 16 groups of 4 upper-case characters separated by `separator` (one space by
 * default; Android's copy-to-clipboard uses two). Accepts any form {@link parseRecoveryKey} accepts.
 */
export function formatRecoveryKey(key: string, separator = ' '): string {
  astring('separator', separator);
  // The display form must parse back to the same key (spec: keys.md 2.4).
  if (![...separator].every(isSeparator)) {
    throw new RangeError('separator may contain only white space and dashes');
  }
  const canonical = parseRecoveryKey(key).toUpperCase();
  const groups: string[] = [];
  for (let i = 0; i < RECOVERY_KEY_LENGTH; i += 4) groups.push(canonical.slice(i, i + 4));
  return groups.join(separator);
}
