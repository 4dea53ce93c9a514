// Recovery key (spec 1): generation, canonical validation, normalisation of typed input, display
// form, and errors that say what is wrong. Property tests with fast-check.
import { AccountEntropyPool } from '@signalapp/libsignal-client/dist/AccountKeys.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertyRuns } from '../../../test-support/profile.ts';
import {
  CofferError,
  formatRecoveryKey,
  generateRecoveryKey,
  isValidRecoveryKey,
  parseRecoveryKey,
  RECOVERY_KEY_ALPHABET,
} from '../src/index.ts';

const ALPHABET = [...RECOVERY_KEY_ALPHABET];
const validKey = fc
  .array(fc.constantFrom(...ALPHABET), { minLength: 64, maxLength: 64 })
  .map((chars) => chars.join(''));
const separator = fc.constantFrom(' ', '  ', '-', ' - ', '\n', '\t', '\r\n', '\u00a0', '\u2013', '');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof CofferError) return err.code;
    throw err;
  }
}

function errorOf(fn: () => unknown): CofferError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CofferError) return err;
    throw err;
  }
  throw new Error('expected a CofferError');
}

describe('generateRecoveryKey', () => {
  it('makes 64 characters of [0-9a-z] that libsignal accepts, different every time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const k = generateRecoveryKey();
      expect(k).toMatch(/^[0-9a-z]{64}$/);
      expect(AccountEntropyPool.isValid(k)).toBe(true);
      seen.add(k);
    }
    expect(seen.size).toBe(200);
  });

  it('maps bytes by rejection sampling: b < 252 -> alphabet[b % 36], bytes >= 252 are skipped', () => {
    // A deterministic rng that counts 0, 1, 2, ... 255, 0, 1, ...
    let next = 0;
    const counting = (n: number) => Uint8Array.from({ length: n }, () => next++ % 256);
    const expected = Array.from({ length: 64 }, (_, i) => ALPHABET[i % 36]).join('');
    expect(generateRecoveryKey(counting)).toBe(expected);
    // Bytes 252..255 produce nothing: a key built only from them and 0x00 is all '0'.
    let flip = 0;
    const mostlyRejected = (n: number) =>
      Uint8Array.from({ length: n }, () => (flip++ % 5 === 0 ? 0 : 252 + (flip % 4)));
    expect(generateRecoveryKey(mostlyRejected)).toBe('0'.repeat(64));
  });

  it('symbols are uniform (chi-square over 128 000 symbols)', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 2000; i++)
      for (const c of generateRecoveryKey()) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(36);
    const expectedEach = (2000 * 64) / 36;
    let chi2 = 0;
    for (const n of counts.values()) chi2 += (n - expectedEach) ** 2 / expectedEach;
    // 35 degrees of freedom: P(chi2 > 80) < 1e-5. A modulo bias (b % 36 without rejection)
    // would give chi2 around 500 here.
    expect(chi2).toBeLessThan(80);
  });

  it('rejects a broken rng instead of looping or returning a weak key', () => {
    expect(() => generateRecoveryKey(() => new Uint8Array(96).fill(255))).toThrow(/rng/);
    expect(() => generateRecoveryKey(() => new Uint8Array(10))).toThrow(RangeError);
    expect(() => generateRecoveryKey('x' as never)).toThrow(TypeError);
  });
});

describe('isValidRecoveryKey', () => {
  it('accepts the canonical form only, exactly like libsignal AccountEntropyPool.isValid', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          validKey,
          validKey.map((k) => k.toUpperCase()),
          fc.string({ minLength: 60, maxLength: 68 }),
          fc.string({ unit: 'binary', minLength: 64, maxLength: 64 }),
          validKey.chain((k) => fc.nat(63).map((i) => `${k.slice(0, i)}_${k.slice(i + 1)}`)),
        ),
        (s) => {
          expect(isValidRecoveryKey(s)).toBe(AccountEntropyPool.isValid(s));
        },
      ),
      { numRuns: propertyRuns(500) },
    );
    expect(isValidRecoveryKey(undefined)).toBe(false);
    expect(isValidRecoveryKey(42)).toBe(false);
  });
});

describe('parseRecoveryKey and formatRecoveryKey', () => {
  it('display form is 16 upper-case groups of 4', () => {
    const key = '0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqr';
    expect(formatRecoveryKey(key)).toBe(
      '0123 4567 89AB CDEF GHIJ KLMN OPQR STUV WXYZ 0123 4567 89AB CDEF GHIJ KLMN OPQR',
    );
    expect(formatRecoveryKey(key, '  ')).toBe(formatRecoveryKey(key).replace(/ /g, '  '));
    expect(formatRecoveryKey(key, '-')).toBe(formatRecoveryKey(key).replace(/ /g, '-'));
    expect(() => formatRecoveryKey(key, '.')).toThrow(RangeError); // would not parse back
  });

  it('any valid key survives format -> parse', () => {
    fc.assert(
      fc.property(validKey, fc.constantFrom(' ', '  ', '-', '\n'), (key, sep) => {
        const shown = formatRecoveryKey(key, sep);
        expect(shown).toMatch(/^[0-9A-Z]{4}(?:(?: | {2}|-|\n)[0-9A-Z]{4}){15}$/);
        expect(parseRecoveryKey(shown)).toBe(key);
      }),
      { numRuns: propertyRuns(1000) },
    );
  });

  it('normalises any case and any spaces, dashes and line breaks between characters', () => {
    fc.assert(
      fc.property(
        validKey,
        fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
        fc.array(separator, { minLength: 65, maxLength: 65 }),
        (key, upper, seps) => {
          let typed = seps[0] as string;
          for (let i = 0; i < 64; i++) {
            const c = key[i] as string;
            typed += (upper[i] ? c.toUpperCase() : c) + (seps[i + 1] as string);
          }
          expect(parseRecoveryKey(typed)).toBe(key);
        },
      ),
      { numRuns: propertyRuns(1000) },
    );
  });

  it('any garbage yields a valid key or a CofferError with a recovery-key code, never another exception', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 100 }),
          fc.string({ unit: 'grapheme', minLength: 50, maxLength: 90 }),
          fc.stringMatching(/^[0-9a-zA-Z \-_.,:;#=]{0,90}$/),
          validKey.chain((k) =>
            fc
              .tuple(fc.nat(63), fc.string({ unit: 'binary', minLength: 1, maxLength: 2 }))
              .map(([i, junk]) => k.slice(0, i) + junk + k.slice(i)),
          ),
        ),
        (s) => {
          const code = codeOf(() => parseRecoveryKey(s));
          if (code === undefined) expect(isValidRecoveryKey(parseRecoveryKey(s))).toBe(true);
          else
            expect(['COFFER_ERR_RECOVERY_KEY_LENGTH', 'COFFER_ERR_RECOVERY_KEY_CHARACTER']).toContain(code);
        },
      ),
      { numRuns: propertyRuns(2000) },
    );
  });

  it('a wrong character is named with its position in the input and its group', () => {
    fc.assert(
      fc.property(
        validKey,
        fc.nat(63),
        fc.constantFrom('_', '.', 'ö', '€', '#', '=', '/', '😀', 'Ｏ'),
        (key, i, bad) => {
          const typed = formatRecoveryKey(key); // groups of 4 with one space
          const at = i + Math.floor(i / 4); // index of key character i within `typed`
          const broken = typed.slice(0, at) + bad + typed.slice(at + 1);
          const err = errorOf(() => parseRecoveryKey(broken));
          expect(err.code).toBe('COFFER_ERR_RECOVERY_KEY_CHARACTER');
          expect(err.details).toMatchObject({
            character: bad,
            position: at + 1,
            group: Math.floor(i / 4) + 1,
          });
          expect(err.message).toContain(`position ${at + 1}`);
          expect(err.message).toContain(`group ${Math.floor(i / 4) + 1} of 16`);
          expect(err.message).toContain(bad);
        },
      ),
      { numRuns: propertyRuns(300) },
    );
  });

  it('invisible characters are named by code point', () => {
    const err = errorOf(() => parseRecoveryKey(`abcd\u200befgh`));
    expect(err.code).toBe('COFFER_ERR_RECOVERY_KEY_CHARACTER');
    expect(err.message).toContain('U+200B');
    expect(err.details).toMatchObject({ position: 5, group: 2, codePoint: 0x200b });
  });

  it('a wrong length says how many characters were given and that 64 are needed', () => {
    fc.assert(
      fc.property(validKey, fc.integer({ min: 0, max: 130 }), (key, n) => {
        fc.pre(n !== 64);
        const typed = (key + key + key).slice(0, n);
        const err = errorOf(() => parseRecoveryKey(formatGroups(typed)));
        expect(err.code).toBe('COFFER_ERR_RECOVERY_KEY_LENGTH');
        expect(err.details).toEqual({ length: n, expected: 64 });
        expect(err.message).toContain(`has ${n} `);
        expect(err.message).toContain('exactly 64');
        expect(err.message).toContain(n < 64 ? `${64 - n} ` : `${n - 64} too many`);
      }),
      { numRuns: propertyRuns(300) },
    );
  });

  it('never puts the key itself into the error', () => {
    const key = generateRecoveryKey();
    for (const typed of [key.slice(0, 60), `${key}x`, `${key.slice(0, 30)}!${key.slice(30)}`]) {
      const err = errorOf(() => parseRecoveryKey(typed));
      expect(err.message).not.toContain(key.slice(0, 12));
      expect(JSON.stringify(err.details)).not.toContain(key.slice(0, 12));
    }
  });

  it('wrong types are TypeErrors', () => {
    expect(() => parseRecoveryKey(undefined as never)).toThrow(TypeError);
    expect(() => formatRecoveryKey(123 as never)).toThrow(TypeError);
  });
});

function formatGroups(s: string): string {
  return s.replace(/(.{4})(?=.)/g, '$1 ');
}
