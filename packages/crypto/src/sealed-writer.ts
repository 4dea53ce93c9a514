// spec 3.3: the sealed-backup writer. plaintext (varint-delimited BackupInfo + Frames)
//   -> one gzip member -> zero padding to the legacy bucket size -> AES-256-CBC/PKCS#7 under a
//   random IV -> HMAC-SHA256 over IV || ciphertext, optionally after the modern
//   `SBACKUP\x01 || varint || MetadataPb` header (which the MAC does not cover, spec 3.1).
// Everything streams: memory does not depend on the size of the backup.
import { abytes } from './_assert.ts';
import { logPaddedSize } from './padding.ts';
import { getPlatform } from './platform.ts';
import { _takeRandom, type Rng, randomBytes } from './random.ts';
import { detectBackupLayout, parseModernHeader, type SealedHeader } from './sealed-header.ts';
import { assertSealKey, type SealKey } from './sealed-keys.ts';

export interface SealBackupOptions {
  /** The modern header `SBACKUP\x01 || varint(L) || MetadataPb` (see `encodeSealedHeader`); omit for legacy. */
  header?: Uint8Array;
  /**
   * gzip level 1..9. Default 4: on chat histories it is within about 1-2% of `gzip -6` in size for
   * about 2.5x less CPU (a daily backup on a phone or laptop), and any level reads the same
   * (spec 3.3: the level does not matter for compatibility). Browsers' CompressionStream has no
   * level setting and uses zlib's default (6).
   */
  level?: number;
  rng?: Rng;
  /** Force a platform implementation (tests compare them); default: the fastest for this runtime. */
  platform?: 'node' | 'web';
  /** Node: number of gzip worker threads (default: available cores; 0 = compress on this thread). */
  workers?: number;
  /** Called once at the end with sizes (benchmarks and progress reports; no secrets). */
  onStats?: (stats: SealStats) => void;
}

export interface SealStats {
  plaintextBytes: number;
  /** Size of the gzip member before padding. */
  compressedBytes: number;
  /** Size after zero padding (spec 3.3), before PKCS#7. */
  paddedBytes: number;
  /** Total bytes of the sealed file, header included. */
  sealedBytes: number;
}

const ZEROS = new Uint8Array(64 * 1024);

/** Default gzip level of sealBackup (see SealBackupOptions.level). */
export const DEFAULT_SEAL_LEVEL = 4;

/** Seals a messages backup. Yields the file bytes in order; the MAC comes last. */
export async function* sealBackup(
  plaintext: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  key: SealKey,
  opts: SealBackupOptions = {},
): AsyncGenerator<Uint8Array> {
  assertSealKey('key', key);
  const level = opts.level ?? DEFAULT_SEAL_LEVEL;
  if (!Number.isInteger(level) || level < 1 || level > 9)
    throw new RangeError(`level must be 1..9, got ${level}`);
  if (opts.header !== undefined) checkHeader(opts.header);
  const iv = opts.rng ? _takeRandom(opts.rng, 16) : randomBytes(16);
  const platform = await getPlatform(opts.platform);

  if (opts.header !== undefined) yield opts.header.slice();
  const mac = platform.hmacSha256(key.hmacKey);
  const cipher = platform.aesCbcEncrypt(key.aesKey, iv);
  mac.update(iv);
  yield iv;

  const emit = (ct: Uint8Array): Uint8Array => {
    mac.update(ct);
    return ct;
  };
  let compressed = 0;
  let plainBytes = 0;
  const counted = async function* () {
    for await (const c of toAsync(plaintext)) {
      plainBytes += c.length;
      yield c;
    }
  };
  const gzipOpts = opts.workers === undefined ? { level } : { level, workers: opts.workers };
  for await (const gz of platform.gzip(counted(), gzipOpts)) {
    compressed += gz.length;
    const ct = await cipher.update(gz);
    if (ct.length > 0) yield emit(ct);
  }
  // spec 3.3 step 3: zero padding inside the encryption hides the exact compressed size.
  const padded = logPaddedSize(compressed);
  for (let pad = padded - compressed; pad > 0; pad -= ZEROS.length) {
    const ct = await cipher.update(ZEROS.subarray(0, Math.min(pad, ZEROS.length)));
    if (ct.length > 0) yield emit(ct);
  }
  const last = await cipher.final();
  if (last.length > 0) yield emit(last);
  yield mac.digest();
  opts.onStats?.({
    plaintextBytes: plainBytes,
    compressedBytes: compressed,
    paddedBytes: padded,
    sealedBytes: (opts.header?.length ?? 0) + 16 + (padded - (padded % 16) + 16) + 32,
  });
}

/** Convenience: seals into one byte array (small backups and tests). */
export async function sealBackupToBytes(
  plaintext: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  key: SealKey,
  opts: SealBackupOptions = {},
): Promise<Uint8Array> {
  return collect(sealBackup(plaintext, key, opts));
}

export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const p of stream) {
    parts.push(p);
    n += p.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function checkHeader(header: Uint8Array): SealedHeader {
  abytes('opts.header', header);
  if (detectBackupLayout(header.subarray(0, 8)) !== 'modern') {
    throw new RangeError('opts.header must start with SBACKUP\\x01 (use encodeSealedHeader)');
  }
  const parsed = parseModernHeader(header);
  if (!('layout' in parsed) || parsed.bodyOffset !== header.length) {
    throw new RangeError('opts.header must be exactly SBACKUP\\x01 || varint(L) || MetadataPb(L bytes)');
  }
  return parsed;
}

async function* toAsync(it: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  for await (const chunk of it) {
    abytes('plaintext chunk', chunk);
    if (chunk.length > 0) yield chunk;
  }
}
