// spec 3.2: the sealed-backup reader. Order matters and is the point of this module:
//   1. detect the layout and parse the (unauthenticated) modern header;
//   2. check the sizes (truncation is reported as such, before any key work);
//   3. pass 1: HMAC-SHA256 over IV || ciphertext of the WHOLE file, constant-time compare;
//      a mismatch stops here and no plaintext is ever produced (MAC before decrypt);
//   4. pass 2: decrypt, strip PKCS#7, gunzip exactly one member, require zero padding after it,
//      and MAC the bytes again (libsignal does the same: the file may change between passes);
//      the stream only completes after that second MAC matched.
import type { BackupSource } from './backup-source.ts';
import { constantTimeEqual } from './constant-time.ts';
import { CofferError } from './errors.ts';
import { gunzipStrict } from './gzip-strict.ts';
import { getPlatform, type Platform } from './platform.ts';
import { detectBackupLayout, parseModernHeader, type SealedHeader } from './sealed-header.ts';
import { assertSealKey, type SealKey } from './sealed-keys.ts';

/** A key, or a function that picks one from the header (legacy vs forward-secrecy key, spec 3.1). */
export type SealKeyInput = SealKey | ((header: SealedHeader) => SealKey | Promise<SealKey>);

export interface OpenBackupOptions {
  platform?: 'node' | 'web';
}

const IV_LEN = 16;
const MAC_LEN = 32;
/** IV + at least one cipher block (PKCS#7 always adds one) + MAC. */
export const MIN_SEALED_BODY = IV_LEN + 16 + MAC_LEN;

export const KEY_MISMATCH_MESSAGE = 'this recovery key does not open this backup (or the file is damaged)';

/** Reads the header of a sealed file without any key (what `openBackup` passes to a key function). */
export async function readSealedHeader(source: BackupSource): Promise<SealedHeader> {
  checkSource(source);
  if (source.size === 0) {
    throw new CofferError(
      'COFFER_ERR_BACKUP_EMPTY',
      'the backup file is empty (0 bytes): download it again',
      {
        details: { size: 0 },
      },
    );
  }
  let prefix = await readRange(source, 0, Math.min(source.size, 8 + 5));
  if (detectBackupLayout(prefix.subarray(0, 8)) === 'legacy') return { layout: 'legacy', bodyOffset: 0 };
  for (;;) {
    const r = parseModernHeader(prefix);
    if ('layout' in r) return r;
    if (r.need > source.size) {
      throw truncated(source.size, 'the file ends inside its forward-secrecy header');
    }
    if (r.need <= prefix.length) throw new Error('header parser made no progress'); // unreachable
    prefix = await readRange(source, 0, r.need);
  }
}

/**
 * Opens a sealed messages backup and yields the plaintext (varint-delimited BackupInfo + Frames).
 * Nothing is yielded before the MAC over the whole file has verified; the iterator completes
 * normally only after the second pass's MAC also matched, so a consumer should stage what it
 * receives and commit only when the loop ends without an error.
 */
export async function* openBackup(
  source: BackupSource,
  key: SealKeyInput,
  opts: OpenBackupOptions = {},
): AsyncGenerator<Uint8Array> {
  const header = await readSealedHeader(source);
  const start = header.bodyOffset;
  const bodyLen = source.size - start;
  if (bodyLen < MIN_SEALED_BODY) {
    throw truncated(
      source.size,
      `the encrypted part is ${bodyLen} bytes, at least ${MIN_SEALED_BODY} expected`,
    );
  }
  if ((bodyLen - IV_LEN - MAC_LEN) % 16 !== 0) {
    // Equally a file cut short or one with bytes appended: the message must not guess which.
    throw truncated(
      source.size,
      'the ciphertext is not a whole number of 16-byte blocks',
      'the backup file is incomplete or has extra bytes after its end (its length is one no backup can have): get the file again',
    );
  }
  const k = typeof key === 'function' ? await key(header) : key;
  assertSealKey('key', k);
  const platform = await getPlatform(opts.platform);
  const macEnd = source.size - MAC_LEN;
  const expected = await readRange(source, macEnd, source.size);

  // Pass 1 (spec 3.2 step 2): MAC before decrypt.
  const mac1 = platform.hmacSha256(k.hmacKey);
  for await (const chunk of source.read(start, macEnd)) mac1.update(chunk);
  if (!constantTimeEqual(mac1.digest(), expected)) {
    throw new CofferError('COFFER_ERR_BACKUP_KEY_MISMATCH', KEY_MISMATCH_MESSAGE, {
      details: { layout: header.layout, size: source.size },
    });
  }

  // Pass 2 (steps 3-6).
  const mac2 = platform.hmacSha256(k.hmacKey);
  yield* gunzipStrict(decrypt(source, start, macEnd, k.aesKey, mac2, platform), platform);
  if (!constantTimeEqual(mac2.digest(), expected)) {
    throw new CofferError(
      'COFFER_ERR_BACKUP_CORRUPT',
      'the backup file changed while it was being read; nothing read from it may be used: try again',
      { details: { part: 'mac', reason: 'the second pass MAC differs from the first' } },
    );
  }
}

async function* decrypt(
  source: BackupSource,
  start: number,
  end: number,
  aesKey: Uint8Array,
  mac: { update(d: Uint8Array): void },
  platform: Platform,
): AsyncGenerator<Uint8Array> {
  let iv: Uint8Array | undefined;
  let ivBuf = new Uint8Array(0);
  let cipher: ReturnType<Platform['aesCbcDecrypt']> | undefined;
  let seen = 0;
  for await (const chunk of source.read(start, end)) {
    mac.update(chunk);
    seen += chunk.length;
    let data = chunk;
    if (iv === undefined) {
      const need = IV_LEN - ivBuf.length;
      const merged = new Uint8Array(ivBuf.length + Math.min(need, data.length));
      merged.set(ivBuf, 0);
      merged.set(data.subarray(0, need), ivBuf.length);
      ivBuf = merged;
      data = data.subarray(need);
      if (ivBuf.length < IV_LEN) continue;
      iv = ivBuf;
      cipher = platform.aesCbcDecrypt(aesKey, iv);
    }
    // In steps (Platform.decryptStep): each plaintext piece is then inflated, decoded and imported
    // before the next young-generation collection, which frees it. A whole 1 MiB piece outlived
    // two collections, was promoted, and waited for a full one: about 25 MiB of such garbage at
    // 1M messages (bench/README.md, restore memory).
    const step = platform.decryptStep;
    for (let o = 0; o < data.length; o += step) {
      const pt = await (cipher as NonNullable<typeof cipher>).update(data.subarray(o, o + step));
      if (pt.length > 0) yield pt;
    }
  }
  if (seen !== end - start || cipher === undefined) {
    throw truncated(end, 'the file became shorter while it was being read');
  }
  let tail: Uint8Array;
  try {
    tail = await cipher.final();
  } catch (e) {
    throw new CofferError(
      'COFFER_ERR_BACKUP_CORRUPT',
      'the backup file is damaged: it decrypted with this key, but its padding is invalid',
      { cause: e, details: { part: 'padding' } },
    );
  }
  if (tail.length > 0) yield tail;
}

async function readRange(source: BackupSource, start: number, end: number): Promise<Uint8Array> {
  const out = new Uint8Array(end - start);
  let o = 0;
  for await (const chunk of source.read(start, end)) {
    if (o + chunk.length > out.length)
      throw new RangeError('BackupSource.read returned more bytes than asked');
    out.set(chunk, o);
    o += chunk.length;
  }
  if (o !== out.length) throw truncated(end, 'the file returned fewer bytes than its size');
  return out;
}

function truncated(
  size: number,
  reason: string,
  message = 'the backup file is incomplete (it was cut short, for example by an interrupted download): download it again',
): CofferError {
  return new CofferError('COFFER_ERR_BACKUP_TRUNCATED', message, { details: { size, reason } });
}

function checkSource(source: BackupSource): void {
  if (typeof source !== 'object' || source === null || typeof source.read !== 'function') {
    throw new TypeError('source must be a BackupSource {size, read(start, end)}');
  }
  if (!Number.isSafeInteger(source.size) || source.size < 0) {
    throw new RangeError(`source.size must be a non-negative integer, got ${source.size}`);
  }
}
