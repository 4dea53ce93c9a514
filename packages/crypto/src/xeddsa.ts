// XEdDSA over Curve25519 (Signal's XEdDSA specification, rev. 1, section 2.3-2.5): EdDSA-style
// signatures made with an X25519 (Montgomery) private key and checked with its X25519 public key.
// spec 2.1 notes: the backup-id key pairs sign with it; the server checks with libsignal's
// `PublicKey.verify`. Built on @noble/curves' Ed25519 point arithmetic and @noble/hashes SHA-512.
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { abytes } from './_assert.ts';
import { constantTimeEqual } from './constant-time.ts';
import { concatBytes } from './encoding.ts';
import { clampPrivateKey } from './key-derivation.ts';
import { _takeRandom, type Rng, randomBytes } from './random.ts';

const Point = ed25519.Point;
const L = Point.Fn.ORDER; // the prime order q of the base point
const P = Point.Fp.ORDER; // the field prime 2^255 - 19
const Fp = Point.Fp;
// hash_1 of the XEdDSA spec: SHA-512 prefixed with the 32-byte little-endian encoding of 2^256 - 2,
// i.e. 0xFE followed by 31 bytes 0xFF (an invalid point encoding, so it never collides with hash_0).
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
 * 32-byte X25519 u-coordinate. Returns false (never throws) for any signature that does not
 * verify, including a wrong-length signature or an unknown key-type byte.
 *
 * Compatibility (spec 2.1 notes): libsignal's signer does not negate the key to force the sign
 * bit to 0 as the XEdDSA spec does; it stores the Edwards sign bit of its public key in the top
 * bit of the signature's last byte instead. Like libsignal's verifier, we read that bit to pick
 * the Edwards point, so signatures from both signers verify. Otherwise this is XEdDSA verify:
 * s < 2^253, R must equal the canonical encoding of sB - hA.
 */
export function xeddsaVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  abytes('publicKey', publicKey, 32, 33);
  abytes('message', message);
  abytes('signature', signature);
  if (signature.length !== 64) return false;
  if (publicKey.length === 33 && publicKey[0] !== 0x05) return false;
  const u = bytesToNumberLE(publicKey.subarray(publicKey.length - 32)) & ((1n << 255n) - 1n);
  const signBit = ((signature[63] as number) & 0x80) >> 7;
  const A = _montgomeryToEdwards(u, signBit);
  if (A === undefined) return false;
  const R = signature.subarray(0, 32);
  const sBytes = signature.slice(32, 64);
  sBytes[31] = (sBytes[31] as number) & 0x7f;
  if (((sBytes[31] as number) & 0xe0) !== 0) return false; // s >= 2^253
  const s = bytesToNumberLE(sBytes);
  const h = hashToScalar(R, A.toBytes(), message);
  // Public data only, so the variable-time multiplication is fine here.
  const check = Point.BASE.multiplyUnsafe(modL(s)).add(A.negate().multiplyUnsafe(h));
  return constantTimeEqual(check.toBytes(), R);
}

/** Birational map u -> y = (u - 1) / (u + 1), then the Edwards point with that y and sign bit. */
function _montgomeryToEdwards(uRaw: bigint, signBit: number): InstanceType<typeof Point> | undefined {
  const u = Fp.create(uRaw); // values >= p are taken mod p, as libsignal (curve25519-dalek) does
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
