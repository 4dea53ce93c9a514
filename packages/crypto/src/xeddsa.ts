// XEdDSA over Curve25519 (Signal's XEdDSA specification, rev. 1, section 2.3-2.5): EdDSA-style
// signatures made with an X25519 (Montgomery) private key and checked with its X25519 public key.
// spec 2.1 notes: the backup-id key pairs sign with it; the server checks with libsignal's
// `PublicKey.verify`. Built on @noble/curves' Ed25519 point arithmetic and @noble/hashes SHA-512.
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { abytes } from './_assert.ts';
import { _nativeEd25519Verify } from './_ed25519-native.ts';
import { constantTimeEqual } from './constant-time.ts';
import { concatBytes, toHex } from './encoding.ts';
import { clampPrivateKey } from './key-derivation.ts';
import { _takeRandom, type Rng, randomBytes } from './random.ts';

const Point = ed25519.Point;
const L = Point.Fn.ORDER; // the prime order q of the base point
const P = Point.Fp.ORDER; // the field prime 2^255 - 19
const Fp = Point.Fp;
// hash_1 of the XEdDSA spec: SHA-512 prefixed with the 32-byte little-endian encoding of 2^256 - 2,
// i.e. 0xFE followed by 31 bytes 0xFF. No point R encodes to it, so the nonce hash can never equal
// the challenge hash SHA-512(R || A || M) on the same input.
const HASH1_PREFIX = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 0xfe : 0xff));

const modL = (n: bigint) => ((n % L) + L) % L;
const hashToScalar = (...parts: Uint8Array[]) => modL(bytesToNumberLE(sha512(concatBytes(...parts))));

/**
 * Signs `message` with a 32-byte X25519 private key (clamped here if it is not already).
 * Returns the 64-byte signature R || s. Randomised: 64 bytes from `rng` enter the nonce
 * (XEdDSA's Z), so signing the same message twice gives different signatures.
 */
export function xeddsaSign(privateKey: Uint8Array, message: Uint8Array, rng: Rng = randomBytes): Uint8Array {
  abytes('privateKey', privateKey, 32);
  abytes('message', message);
  const z = _takeRandom(rng, 64);
  // calculate_key_pair(k): E = kB; A = E with its sign bit forced to 0; a = k or -k to match A.
  const k = modL(bytesToNumberLE(clampPrivateKey(privateKey)));
  if (k === 0n) throw new RangeError('privateKey reduces to zero and cannot sign');
  const e = Point.BASE.multiply(k);
  const eBytes = e.toBytes();
  const negate = ((eBytes[31] as number) & 0x80) !== 0;
  const a = negate ? modL(-k) : k;
  const A = negate ? e.negate().toBytes() : eBytes;
  const aBytes = numberToBytesLE(a, 32);
  // r = hash_1(a || M || Z) mod q; R = rB; h = hash(R || A || M) mod q; s = r + h*a mod q.
  const r = hashToScalar(HASH1_PREFIX, aBytes, message, z);
  if (r === 0n) throw new Error('xeddsa nonce was zero'); // probability 2^-252: a broken rng/hash
  const R = Point.BASE.multiply(r).toBytes();
  const h = hashToScalar(R, A, message);
  const s = modL(r + h * a);
  aBytes.fill(0);
  return concatBytes(R, numberToBytesLE(s, 32));
}

/**
 * Checks an XEdDSA signature against a libsignal public key (33 bytes: 0x05 || u) or a bare
 * 32-byte X25519 u-coordinate. Returns false for any signature that does not verify, including a
 * wrong-length signature or an unknown key-type byte; throws only for misuse (a TypeError for
 * non-Uint8Array arguments, a RangeError for a public key that is not 32 or 33 bytes).
 *
 * Compatibility (spec 2.1 notes): libsignal's signer does not negate the key to force the sign
 * bit to 0 as the XEdDSA spec does; it stores the Edwards sign bit of its public key in the top
 * bit of the signature's last byte instead. Like libsignal's verifier, we read that bit to pick
 * the Edwards point, so signatures from both signers verify. Otherwise this is XEdDSA verify:
 * s < 2^253, R must equal the canonical encoding of sB - hA.
 *
 * Under Node the Ed25519 equation is checked by OpenSSL (about 10x faster); elsewhere, and for
 * the degenerate key u = 0, by @noble/curves. Both give libsignal's verdict (tested).
 */
export function xeddsaVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  return _xeddsaVerify(publicKey, message, signature, true);
}

/** xeddsaVerify with the native path switched off or on (tests compare the two). */
export function _xeddsaVerify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  allowNative: boolean,
): boolean {
  abytes('publicKey', publicKey, 32, 33);
  abytes('message', message);
  abytes('signature', signature);
  if (signature.length !== 64) return false;
  if (publicKey.length === 33 && publicKey[0] !== 0x05) return false;
  const uBytes = publicKey.subarray(publicKey.length - 32);
  const signBit = ((signature[63] as number) & 0x80) >> 7;
  const R = signature.subarray(0, 32);
  const sBytes = scalarBytes(signature);
  if (((sBytes[31] as number) & 0xe0) !== 0) return false; // s >= 2^253
  const s = bytesToNumberLE(sBytes);
  if (allowNative) {
    // OpenSSL insists on s < q; sB = (s mod q)B, so reducing keeps libsignal's verdict.
    const native = _nativeEd25519Verify(
      `${toHex(uBytes)}${signBit}`,
      () => _edwardsEncoding(uBytes, signBit),
      message,
      concatBytes(R, s < L ? sBytes : numberToBytesLE(modL(s), 32)),
    );
    if (native !== undefined) return native;
  }
  const A = _montgomeryToEdwards(uBytes, signBit);
  if (A === undefined) return false;
  const h = hashToScalar(R, A.toBytes(), message);
  // Public data only, so the variable-time multiplication is fine here.
  const check = Point.BASE.multiplyUnsafe(modL(s)).add(A.negate().multiplyUnsafe(h));
  return constantTimeEqual(check.toBytes(), R);
}

/**
 * Whether a 64-byte XEdDSA signature is in its one canonical form: s < q (the sign bit of the last
 * byte aside). xeddsaVerify, like libsignal's verifier, also accepts s + q for the same R (both
 * give the same sB), so anyone who sees a signature can make a second valid one for the same
 * message. Where a signature must be unique, such as a replay store keyed by it, require this.
 * Coffer's signer and libsignal's always produce s < q.
 */
export function isCanonicalXeddsaSignature(signature: Uint8Array): boolean {
  return signature.length === 64 && bytesToNumberLE(scalarBytes(signature)) < L;
}

/** s of a signature R || s: its last 32 bytes, without the sign bit libsignal stores in the top bit. */
function scalarBytes(signature: Uint8Array): Uint8Array {
  const sBytes = signature.slice(32, 64);
  sBytes[31] = (sBytes[31] as number) & 0x7f;
  return sBytes;
}

// u-coordinates of the points of order 1, 2, 4 and 8 on Curve25519 (and its twist's order-2
// point u = 0 is among them). Everything else has a large prime-order component.
const SMALL_ORDER_U = new Set([
  0n,
  1n,
  P - 1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
]);

/**
 * True for a public key (33 bytes 0x05 || u, or bare 32-byte u) whose point has small order.
 * Anyone can make signatures that verify under such a key (libsignal's verifier accepts them as
 * well), and no honestly derived key is one, so a server should refuse to register them.
 */
export function isSmallOrderPublicKey(publicKey: Uint8Array): boolean {
  abytes('publicKey', publicKey, 32, 33);
  return SMALL_ORDER_U.has(_u(publicKey.subarray(publicKey.length - 32)));
}

/** The Montgomery u-coordinate (bit 255 ignored, as curve25519-dalek does) taken mod p. */
function _u(uBytes: Uint8Array): bigint {
  return Fp.create(bytesToNumberLE(uBytes) & ((1n << 255n) - 1n));
}

/**
 * Encoding of the Edwards point for u with the given sign bit, computed without decompressing:
 * y = (u - 1) / (u + 1). Undefined for u = -1 (no image) and for u = 0 (y = -1, x = 0, where
 * sign-bit handling differs between libraries; the JS path decides that case).
 */
function _edwardsEncoding(uBytes: Uint8Array, signBit: number): Uint8Array | undefined {
  const u = _u(uBytes);
  if (u === P - 1n || u === 0n) return undefined;
  const enc = numberToBytesLE(Fp.div(Fp.sub(u, 1n), Fp.add(u, 1n)), 32);
  enc[31] = (enc[31] as number) | (signBit << 7);
  return enc;
}

/** Birational map u -> y = (u - 1) / (u + 1), then the Edwards point with that y and sign bit. */
function _montgomeryToEdwards(uBytes: Uint8Array, signBit: number): InstanceType<typeof Point> | undefined {
  const u = _u(uBytes); // values >= p are taken mod p, as libsignal (curve25519-dalek) does
  if (u === P - 1n) return undefined; // u = -1 has no Edwards image
  const y = Fp.div(Fp.sub(u, 1n), Fp.add(u, 1n));
  const enc = numberToBytesLE(y, 32);
  enc[31] = (enc[31] as number) | (signBit << 7);
  try {
    // zip215 = true: accept x = 0 with the sign bit set, as curve25519-dalek's decompress does.
    return Point.fromBytes(enc, true);
  } catch {
    return undefined; // y has no x on the curve
  }
}
