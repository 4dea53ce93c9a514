// spec 5.1: attachment ("transit tier") encryption, streaming both ways.
//   keys = aesKey(32) || macKey(32)                       (note: NOT the hmac||aes order of spec 2)
//   padded = plaintext || 0x00 * (logPaddedSize(len) - len)
//   blob = IV(16) || AES-256-CBC/PKCS#7(aesKey, IV, padded) || HMAC-SHA256(macKey, IV || CT)
//   digest = SHA-256(blob); plaintextHash = SHA-256(plaintext); incremental MAC over the blob.
import { abytes } from './_assert.ts';
import { type BackupSource, bytesSource } from './backup-source.ts';
import { constantTimeEqual } from './constant-time.ts';
import { CofferError } from './errors.ts';
import {
  IncrementalMac,
  incrementalMacChunkSize,
  inlineIncrementalMac,
  inlineSha256,
} from './media-incremental-mac.ts';
import { logPaddedSize } from './padding.ts';
import { getPlatform, type Platform } from './platform.ts';
import { _takeRandom, type Rng, randomBytes } from './random.ts';

const ZEROS = new Uint8Array(64 * 1024);
const SIXTEEN_MIB = 16 * 1024 * 1024;

export interface AttachmentSealResult {
  /** aesKey || macKey, as stored in `FilePointer.LocatorInfo.key`. */
  keys: Uint8Array;
  /** SHA-256 of the blob (`encryptedDigest`, `AttachmentPointer.digest`). */
  digest: Uint8Array;
  /** SHA-256 of the plaintext (`LocatorInfo.plaintextHash`). */
  plaintextHash: Uint8Array;
  /** Unpadded plaintext size (`LocatorInfo.size`). */
  size: number;
  blobSize: number;
  /**
   * Concatenated incremental-MAC digests and their chunk size. Absent only when the plaintext
   * was a stream of unannounced length whose blob reached 16 MiB (the chunk size depends on
   * the final length; pass `opts.size` to always get it).
   */
  incrementalMac?: Uint8Array;
  chunkSize?: number;
}

export interface SealAttachmentOptions {
  /** Plaintext length when `plaintext` is a stream (enables the incremental MAC for any size). */
  size?: number;
  rng?: Rng;
  platform?: 'node' | 'web';
  /**
   * `false`: do not compute `digest` (SHA-256 of the blob); the result has no `digest`. Each of
   * these two hashes is a full SHA-256 pass that `AES-CBC + HMAC` does not need; a caller that
   * does not use the value (backup-tier media keep no transit digest) saves it. Default true.
   */
  digest?: boolean;
  /**
   * `false`: do not compute `plaintextHash`; the result has none. For callers that already
   * know it (the media name is made from it before sealing, spec 5.2). Default true.
   */
  plaintextHash?: boolean;
}

/** The blob and its result; `R` is `AttachmentSealResult` unless hashes were turned off. */
export interface SealedAttachment<R = AttachmentSealResult> {
  /** The blob bytes, in order. Consume it fully; `result` settles when it ends. */
  blob: AsyncIterable<Uint8Array>;
  result: Promise<R>;
}

type HashField = 'digest' | 'plaintextHash';
/** Whether options `O` compute field `K`: surely ('yes', the default), surely not, or unknown at compile time. */
type Computed<O, K extends HashField> = K extends keyof O
  ? O[K] extends false
    ? 'no'
    : O[K] extends true | undefined
      ? 'yes'
      : 'maybe'
  : 'yes';
type ResultField<O, K extends HashField> =
  Computed<O, K> extends 'yes'
    ? Record<K, Uint8Array>
    : Computed<O, K> extends 'maybe'
      ? Partial<Record<K, Uint8Array>>
      : unknown;
/** The result of `sealAttachment` for options `O`: without `digest` / `plaintextHash` when they are off. */
export type AttachmentSealResultFor<O> = Omit<AttachmentSealResult, HashField> &
  ResultField<O, 'digest'> &
  ResultField<O, 'plaintextHash'>;

/** Size of the blob for a plaintext of `size` bytes: `16 + 16*(floor(padded/16)+1) + 32` (spec 5.1). */
export function attachmentBlobSize(size: number): number {
  const padded = logPaddedSize(size);
  return 16 + 16 * (Math.floor(padded / 16) + 1) + 32;
}

/**
 * Encrypts an attachment as a stream. Keys are random unless given (64 bytes, aes || mac). By
 * default the result carries every value of spec 5.1; `digest: false` / `plaintextHash: false`
 * skip those SHA-256 passes (and leave the fields out of the result).
 */
export function sealAttachment(
  plaintext: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array,
  keys64: Uint8Array | undefined,
  rng: Rng,
): SealedAttachment;
export function sealAttachment<O extends SealAttachmentOptions = Record<never, never>>(
  plaintext: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array,
  keys64?: Uint8Array,
  options?: O,
): SealedAttachment<AttachmentSealResultFor<O>>;
export function sealAttachment<O extends SealAttachmentOptions>(
  plaintext: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array,
  keys64?: Uint8Array,
  options: O | Rng = {} as O,
): SealedAttachment<AttachmentSealResultFor<O>> {
  // CONTRACTS.md form `sealAttachment(plaintext, keys64?, rng?)` is accepted too.
  const opts: SealAttachmentOptions = typeof options === 'function' ? { rng: options } : options;
  if (keys64 !== undefined) abytes('keys64', keys64, 64);
  const keys = keys64?.slice() ?? (opts.rng ? _takeRandom(opts.rng, 64) : randomBytes(64));
  const iv = opts.rng ? _takeRandom(opts.rng, 16) : randomBytes(16);
  let size = opts.size;
  if (plaintext instanceof Uint8Array) {
    if (size !== undefined && size !== plaintext.length)
      throw new RangeError('opts.size differs from plaintext.length');
    size = plaintext.length;
  }
  if (size !== undefined && (!Number.isSafeInteger(size) || size < 0))
    throw new RangeError(`bad size ${size}`);
  let resolve!: (r: AttachmentSealResultFor<O>) => void;
  let reject!: (e: unknown) => void;
  const result = new Promise<AttachmentSealResultFor<O>>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  result.catch(() => {}); // also surfaced through the blob iterator
  const input = plaintext instanceof Uint8Array ? [plaintext] : plaintext;
  const blob = (async function* () {
    try {
      const platform = await getPlatform(opts.platform);
      const want = { digest: opts.digest !== false, plaintextHash: opts.plaintextHash !== false };
      yield* sealStream(platform, input, keys, iv, size, want, (r) =>
        resolve(r as AttachmentSealResultFor<O>),
      );
    } catch (e) {
      reject(e);
      throw e;
    }
  })();
  return { blob, result };
}

/**
 * Blobs from this size on hash on worker threads (Node); smaller ones on the calling thread,
 * where a worker round trip would cost more than the hashing.
 */
const OFFLOAD_FROM = 1024 * 1024;

async function* sealStream(
  platform: Platform,
  input: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  keys: Uint8Array,
  iv: Uint8Array,
  announced: number | undefined,
  want: { digest: boolean; plaintextHash: boolean },
  done: (r: AttachmentSealResultFor<SealAttachmentOptions>) => void,
): AsyncGenerator<Uint8Array> {
  const aesKey = keys.subarray(0, 32);
  const macKey = keys.subarray(32, 64);
  const chunkSize = incrementalMacChunkSize(announced === undefined ? 0 : attachmentBlobSize(announced));
  // AES-CBC runs here; the incremental MAC (whose snapshot after IV || CT is the blob's MAC) and
  // the optional SHA-256 passes run beside it on worker threads in Node (hash-offload.ts).
  const offload = announced === undefined || announced >= OFFLOAD_FROM;
  const imac = offload
    ? platform.incrementalMacOffloaded(macKey, chunkSize)
    : inlineIncrementalMac(platform, macKey, chunkSize);
  const sha = () => (offload ? platform.sha256Offloaded() : inlineSha256(platform));
  const digest = want.digest ? sha() : undefined;
  const ptHash = want.plaintextHash ? sha() : undefined;
  try {
    const cipher = platform.aesCbcEncrypt(aesKey, iv);
    // The hashes copy what they need before resolving, so each part can be handed out at once.
    const out = async (b: Uint8Array): Promise<Uint8Array> => {
      await imac.update(b);
      await digest?.update(b);
      return b;
    };
    yield await out(iv.slice());
    let size = 0;
    for await (const chunk of input) {
      abytes('plaintext chunk', chunk);
      size += chunk.length;
      await ptHash?.update(chunk);
      const ct = await cipher.update(chunk);
      if (ct.length > 0) yield await out(ct);
    }
    if (announced !== undefined && size !== announced) {
      throw new RangeError(`the plaintext had ${size} bytes, but opts.size announced ${announced}`);
    }
    for (let pad = logPaddedSize(size) - size; pad > 0; pad -= ZEROS.length) {
      const ct = await cipher.update(ZEROS.subarray(0, Math.min(pad, ZEROS.length)));
      if (ct.length > 0) yield await out(ct);
    }
    const last = await cipher.final();
    if (last.length > 0) yield await out(last);
    const mac = await imac.snapshot(); // HMAC(macKey, IV || CT): the running MAC before the MAC itself
    yield await out(mac);
    const blobSize = attachmentBlobSize(size);
    const incremental = await imac.finish();
    const r: AttachmentSealResultFor<SealAttachmentOptions> = { keys, size, blobSize };
    if (digest) r.digest = await digest.digest();
    if (ptHash) r.plaintextHash = await ptHash.digest();
    if (announced !== undefined || blobSize < SIXTEEN_MIB) {
      r.incrementalMac = incremental;
      r.chunkSize = chunkSize;
    }
    done(r);
  } finally {
    // Frees the workers' state on an error or early exit; no-ops for finished hashes.
    imac.dispose();
    digest?.dispose();
    ptHash?.dispose();
  }
}

/** Seals into memory (small attachments, tests). */
export async function sealAttachmentToBytes(
  plaintext: Uint8Array,
  keys64?: Uint8Array,
  opts: Omit<SealAttachmentOptions, HashField> = {},
): Promise<AttachmentSealResult & { blob: Uint8Array }> {
  const s = sealAttachment(plaintext, keys64, { ...opts, digest: true, plaintextHash: true });
  const parts: Uint8Array[] = [];
  for await (const p of s.blob) parts.push(p);
  const blob = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    blob.set(p, o);
    o += p.length;
  }
  return { ...(await s.result), blob };
}

export interface OpenAttachmentOptions {
  /** Unpadded plaintext size (`LocatorInfo.size`): the padding after it is cut off. */
  size: number;
  /** At least one of plaintextHash and digest is required (spec 3.5: the integrity check). */
  plaintextHash?: Uint8Array;
  digest?: Uint8Array;
  /** When given, the incremental MAC is verified too (with its chunk size). */
  incrementalMac?: Uint8Array;
  chunkSize?: number;
  platform?: 'node' | 'web';
}

/**
 * Opens an attachment blob: MAC (and digest / incremental MAC) over the whole blob first, then a
 * second pass decrypts, cuts to `size`, and checks the zero padding and the plaintext hash. The
 * iterator completes only when every check passed; use the bytes only then.
 */
export async function* openAttachment(
  blob: BackupSource | Uint8Array,
  keys64: Uint8Array,
  opts: OpenAttachmentOptions,
): AsyncGenerator<Uint8Array> {
  abytes('keys64', keys64, 64);
  if (opts.plaintextHash === undefined && opts.digest === undefined) {
    throw new TypeError(
      'openAttachment needs opts.plaintextHash or opts.digest to check the attachment against',
    );
  }
  if (opts.plaintextHash !== undefined) abytes('opts.plaintextHash', opts.plaintextHash, 32);
  if (opts.digest !== undefined) abytes('opts.digest', opts.digest, 32);
  if (!Number.isSafeInteger(opts.size) || opts.size < 0)
    throw new RangeError(`opts.size must be >= 0, got ${opts.size}`);
  const source = blob instanceof Uint8Array ? bytesSource(blob) : blob;
  const n = source.size;
  if (n < 64 || (n - 48) % 16 !== 0) {
    throw mediaError('COFFER_ERR_MEDIA_TRUNCATED', 'the attachment file is incomplete: download it again', {
      size: n,
    });
  }
  const ctLen = n - 48;
  if (opts.size > ctLen - 1) {
    throw mediaError('COFFER_ERR_MEDIA_CORRUPT', 'the attachment is smaller than its recorded size', {
      reason: 'size does not fit the blob',
    });
  }
  const platform = await getPlatform(opts.platform);
  const aesKey = keys64.subarray(0, 32);
  const macKey = keys64.subarray(32, 64);

  // Pass 1: the MACs and the digest over the whole blob.
  let chunkSize = incrementalMacChunkSize(n);
  if (opts.incrementalMac !== undefined) {
    abytes('opts.incrementalMac', opts.incrementalMac);
    chunkSize = opts.chunkSize ?? chunkSize;
    if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0)
      throw new RangeError('opts.chunkSize must be positive');
  }
  // Pass 1 hashes on this thread (nothing else to overlap it with), except the digest, which runs
  // beside it on a worker (Node) for large blobs.
  const offload = n >= OFFLOAD_FROM;
  const sha = () => (offload ? platform.sha256Offloaded() : inlineSha256(platform));
  const imac = new IncrementalMac(platform, macKey, chunkSize);
  const digest = opts.digest ? sha() : undefined;
  let ptHash: ReturnType<Platform['sha256Offloaded']> | undefined;
  let completed = false;
  try {
    let pos = 0;
    let mac: Uint8Array | undefined;
    const theirMac = new Uint8Array(32);
    for await (const chunk of source.read(0, n)) {
      let c = chunk;
      await digest?.update(c);
      if (pos < n - 32) {
        const take = Math.min(c.length, n - 32 - pos);
        imac.update(c.subarray(0, take));
        pos += take;
        c = c.subarray(take);
        if (pos === n - 32) mac = imac.snapshot();
      }
      if (c.length > 0) {
        theirMac.set(c, pos - (n - 32));
        imac.update(c);
        pos += c.length;
      }
    }
    if (mac === undefined || pos !== n || !constantTimeEqual(mac, theirMac)) {
      throw mediaError(
        'COFFER_ERR_MEDIA_MAC',
        'this attachment could not be verified: its key does not match or the file is damaged',
        { layer: 'attachment' },
      );
    }
    if (digest && opts.digest && !constantTimeEqual(await digest.digest(), opts.digest)) {
      throw mediaError(
        'COFFER_ERR_MEDIA_DIGEST',
        'the attachment is not the file that was backed up (digest differs)',
        {},
      );
    }
    if (opts.incrementalMac !== undefined && !constantTimeEqual(imac.finish(), opts.incrementalMac)) {
      throw mediaError(
        'COFFER_ERR_MEDIA_INCREMENTAL_MAC',
        'the attachment streaming checksum (incremental MAC) does not match',
        {},
      );
    }

    // Pass 2: decrypt, cut to size, check the padding, and check that what was released is what
    // pass 1 verified (the source is read again and could have changed in between). With a
    // plaintext hash that check is the hash itself: it covers every released byte, so a second
    // MAC over the ciphertext would be a redundant SHA-256 pass. Without one, the MAC again.
    ptHash = opts.plaintextHash ? sha() : undefined;
    let decipher: ReturnType<Platform['aesCbcDecrypt']> | undefined;
    let ivBuf = new Uint8Array(0);
    let emitted = 0;
    const second = ptHash ? undefined : platform.hmacSha256(macKey);
    const hashing = ptHash;
    const take = async function* (pt: Uint8Array): AsyncGenerator<Uint8Array> {
      const keep = Math.max(0, Math.min(pt.length, opts.size - emitted));
      for (let i = keep; i < pt.length; i++) {
        if (pt[i] !== 0) {
          throw mediaError(
            'COFFER_ERR_MEDIA_CORRUPT',
            'the attachment has non-zero padding after its recorded size',
            {
              reason: 'padding',
            },
          );
        }
      }
      emitted += keep;
      if (keep > 0) {
        const out = pt.subarray(0, keep);
        await hashing?.update(out);
        yield out;
      }
    };
    for await (const chunk of source.read(0, n - 32)) {
      second?.update(chunk);
      let c: Uint8Array = chunk;
      if (decipher === undefined) {
        const need = 16 - ivBuf.length;
        const merged = new Uint8Array(ivBuf.length + Math.min(need, c.length));
        merged.set(ivBuf);
        merged.set(c.subarray(0, need), ivBuf.length);
        ivBuf = merged;
        c = c.subarray(need);
        if (ivBuf.length < 16) continue;
        decipher = platform.aesCbcDecrypt(aesKey, ivBuf);
      }
      if (c.length > 0) yield* take(await decipher.update(c));
    }
    if (decipher === undefined) throw new Error('unreachable: blob shorter than its IV');
    let tail: Uint8Array;
    try {
      tail = await decipher.final();
    } catch (e) {
      throw mediaError('COFFER_ERR_MEDIA_CORRUPT', 'the attachment decrypted, but its padding is invalid', {
        reason: 'pkcs7',
        cause: String(e),
      });
    }
    yield* take(tail);
    if (emitted !== opts.size) {
      throw mediaError('COFFER_ERR_MEDIA_CORRUPT', 'the attachment is smaller than its recorded size', {
        reason: 'size',
      });
    }
    if (second && !constantTimeEqual(second.digest(), theirMac)) {
      throw mediaError('COFFER_ERR_MEDIA_MAC', 'the attachment changed while it was being read: try again', {
        layer: 'attachment',
        reason: 'second pass',
      });
    }
    completed = true;
    if (ptHash && opts.plaintextHash && !constantTimeEqual(await ptHash.digest(), opts.plaintextHash)) {
      throw mediaError(
        'COFFER_ERR_MEDIA_PLAINTEXT_HASH',
        'the attachment decrypted, but it is not the file that was backed up (plaintext hash differs)',
        {},
      );
    }
  } finally {
    if (!completed) {
      digest?.dispose();
      ptHash?.dispose();
    }
  }
}

export function mediaError(code: string, message: string, details: Record<string, unknown>): CofferError {
  return new CofferError(code, message, { details });
}
