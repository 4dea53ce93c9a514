// Cross-checks against the reference implementation, @signalapp/libsignal-client 0.103.0
// (devDependency, tests only): every derivation for many random recovery keys and ACIs, and
// XEdDSA signatures in both directions.
import { randomUUID } from 'node:crypto';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { Aci, PrivateKey, PublicKey } from '@signalapp/libsignal-client';
import {
  AccountEntropyPool,
  BackupForwardSecrecyToken,
  BackupKey,
  SvrKey,
} from '@signalapp/libsignal-client/dist/AccountKeys.js';
import { MessageBackupKey } from '@signalapp/libsignal-client/dist/MessageBackup.js';
import { describe, expect, it } from 'vitest';
import { _hasNativeEd25519 } from '../src/_ed25519-native.ts';
import {
  deriveBackupId,
  deriveBackupIdKeyPair,
  deriveBackupKey,
  deriveLocalBackupMetadataKey,
  deriveMediaEncryptionKey,
  deriveMediaId,
  deriveMessageBackupKey,
  deriveSvrKey,
  deriveSvrSubkeys,
  deriveThumbnailTransitKey,
  generateRecoveryKey,
  isValidRecoveryKey,
  publicKeyFromPrivate,
  randomBytes,
  toHex,
  uuidToBytes,
  xeddsaSign,
  xeddsaVerify,
} from '../src/index.ts';
import { _xeddsaVerify } from '../src/xeddsa.ts';

const ab = (u: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(u);
const ROUNDS = 200;

/** Our verdict through both paths (OpenSSL fast path and pure JS); they must agree. */
function verifyBoth(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const native = _xeddsaVerify(publicKey, message, signature, true);
  expect(_xeddsaVerify(publicKey, message, signature, false)).toBe(native);
  expect(xeddsaVerify(publicKey, message, signature)).toBe(native);
  return native;
}

describe('derivations equal libsignal for random recovery keys and ACIs', () => {
  it(`${ROUNDS} random identities, Coffer-generated and libsignal-generated keys`, () => {
    for (let i = 0; i < ROUNDS; i++) {
      const aep = i % 2 === 0 ? generateRecoveryKey() : AccountEntropyPool.generate();
      expect(isValidRecoveryKey(aep)).toBe(AccountEntropyPool.isValid(aep));
      const uuid = randomUUID();
      const aci = Aci.fromUuid(uuid);

      const backupKey = deriveBackupKey(aep);
      const lsBackupKey = AccountEntropyPool.deriveBackupKey(aep);
      expect(toHex(backupKey)).toBe(toHex(lsBackupKey.serialize()));
      const svrKey = deriveSvrKey(aep);
      expect(toHex(svrKey)).toBe(toHex(AccountEntropyPool.deriveSvrKey(aep)));
      const sub = deriveSvrSubkeys(svrKey);
      const lsSvr = new SvrKey(ab(svrKey));
      expect(toHex(sub.registrationLock)).toBe(toHex(lsSvr.deriveRegistrationLock()));
      expect(toHex(sub.registrationRecoveryPassword)).toBe(toHex(lsSvr.deriveRegistrationRecoveryPassword()));
      expect(toHex(sub.storageServiceKey)).toBe(toHex(lsSvr.deriveStorageServiceKey()));
      expect(toHex(sub.loggingKey)).toBe(toHex(lsSvr.deriveLoggingKey()));

      const backupId = deriveBackupId(backupKey, uuid);
      expect(toHex(backupId)).toBe(toHex(lsBackupKey.deriveBackupId(aci)));
      const kp = deriveBackupIdKeyPair(backupKey, uuid);
      const lsPriv = lsBackupKey.deriveEcKey(aci);
      expect(toHex(kp.privateKey)).toBe(toHex(lsPriv.serialize()));
      expect(toHex(kp.publicKey)).toBe(toHex(lsPriv.getPublicKey().serialize()));
      expect(toHex(deriveLocalBackupMetadataKey(backupKey))).toBe(
        toHex(lsBackupKey.deriveLocalBackupMetadataKey()),
      );

      const legacy = deriveMessageBackupKey(backupKey, backupId);
      const lsLegacy = new MessageBackupKey({ accountEntropy: aep, aci });
      expect(toHex(legacy.hmacKey)).toBe(toHex(lsLegacy.hmacKey));
      expect(toHex(legacy.aesKey)).toBe(toHex(lsLegacy.aesKey));
      const token = randomBytes(32);
      const fs = deriveMessageBackupKey(backupKey, backupId, token);
      const lsFs = new MessageBackupKey({
        accountEntropy: aep,
        aci,
        forwardSecrecyToken: new BackupForwardSecrecyToken(ab(token)),
      });
      expect(toHex(fs.hmacKey)).toBe(toHex(lsFs.hmacKey));
      expect(toHex(fs.aesKey)).toBe(toHex(lsFs.aesKey));
    }
  });

  it(`${ROUNDS} random media root keys, ACIs and media names`, () => {
    for (let i = 0; i < ROUNDS; i++) {
      const root = randomBytes(32);
      // libsignal uses its BackupKey class for the (random) media root key too.
      const lsRoot = new BackupKey(ab(root));
      const uuid = randomUUID();
      const aci = Aci.fromUuid(uuid);
      expect(toHex(deriveBackupId(root, uuidToBytes(uuid)))).toBe(toHex(lsRoot.deriveBackupId(aci)));
      expect(toHex(deriveBackupIdKeyPair(root, uuid).publicKey)).toBe(
        toHex(lsRoot.deriveEcKey(aci).getPublicKey().serialize()),
      );
      // Names: hex media names, their thumbnails, and arbitrary Unicode (UTF-8 encoded in info).
      const name =
        i % 3 === 0
          ? toHex(randomBytes(96))
          : i % 3 === 1
            ? `${toHex(randomBytes(96))}_thumbnail`
            : `näme-${i}-📎`;
      const mediaId = deriveMediaId(root, name);
      expect(toHex(mediaId)).toBe(toHex(lsRoot.deriveMediaId(name)));
      const mk = deriveMediaEncryptionKey(root, mediaId);
      expect(toHex(mk.hmacKey) + toHex(mk.aesKey)).toBe(toHex(lsRoot.deriveMediaEncryptionKey(ab(mediaId))));
      const tk = deriveThumbnailTransitKey(root, mediaId);
      expect(toHex(tk.hmacKey) + toHex(tk.aesKey)).toBe(
        toHex(lsRoot.deriveThumbnailTransitEncryptionKey(ab(mediaId))),
      );
    }
  });
});

describe('XEdDSA interoperates with libsignal', () => {
  it('the Node fast path is active in this runtime (so both paths below are exercised)', () => {
    expect(_hasNativeEd25519()).toBe(true);
  });

  const message = (i: number) => randomBytes(i % 7 === 0 ? 0 : (i * 37) % 300);

  it('our signatures verify in libsignal PublicKey.verify (both Edwards sign-bit cases)', () => {
    const signBits = new Set<number>();
    for (let i = 0; i < ROUNDS; i++) {
      const priv = randomBytes(32);
      const lsPriv = PrivateKey.deserialize(ab(priv));
      const ourPub = publicKeyFromPrivate(priv); // clamp + X25519 base-point multiplication
      expect(toHex(ourPub)).toBe(toHex(lsPriv.getPublicKey().serialize()));
      const msg = message(i);
      const sig = xeddsaSign(priv, msg);
      expect(sig).toHaveLength(64);
      expect(lsPriv.getPublicKey().verify(ab(msg), ab(sig))).toBe(true);
      expect(verifyBoth(ourPub, msg, sig)).toBe(true);
      signBits.add(edwardsSignBit(lsPriv.sign(ab(msg))));
    }
    // Both kinds of key occurred, so the negation branch of xeddsaSign was exercised.
    expect(signBits).toEqual(new Set([0, 1]));
  });

  it('libsignal signatures verify with xeddsaVerify', () => {
    for (let i = 0; i < ROUNDS; i++) {
      const lsPriv = PrivateKey.generate();
      const pub = lsPriv.getPublicKey().serialize();
      const msg = message(i);
      const sig = lsPriv.sign(ab(msg));
      expect(verifyBoth(pub, msg, sig)).toBe(true);
      expect(verifyBoth(pub.subarray(1), msg, sig)).toBe(true); // bare 32-byte u also accepted
    }
  });

  it('tampered message, signature or key is rejected by both', () => {
    for (let i = 0; i < 60; i++) {
      const lsPriv = PrivateKey.generate();
      const pub = lsPriv.getPublicKey().serialize();
      const msg = randomBytes(1 + (i % 50));
      const sig = ab(i % 2 === 0 ? lsPriv.sign(ab(msg)) : xeddsaSign(lsPriv.serialize(), msg));

      const badMsg = msg.slice();
      badMsg[i % badMsg.length] = (badMsg[i % badMsg.length] as number) ^ (1 << (i % 8));
      expect(verifyBoth(pub, badMsg, sig)).toBe(false);
      expect(PublicKey.deserialize(pub).verify(ab(badMsg), sig)).toBe(false);

      const badSig = sig.slice();
      badSig[i % 64] = (badSig[i % 64] as number) ^ (1 << (i % 8));
      expect(verifyBoth(pub, msg, badSig)).toBe(false);
      expect(PublicKey.deserialize(pub).verify(ab(msg), badSig)).toBe(false);

      const otherPub = PrivateKey.generate().getPublicKey().serialize();
      expect(verifyBoth(otherPub, msg, sig)).toBe(false);
      expect(PublicKey.deserialize(otherPub).verify(ab(msg), sig)).toBe(false);

      expect(verifyBoth(pub, msg, sig.subarray(0, 63))).toBe(false);
      const wrongType = pub.slice();
      wrongType[0] = 0x06;
      expect(verifyBoth(wrongType, msg, sig)).toBe(false);
    }
  });

  it('edge encodings get the same verdict as libsignal (key high bit, s + q, low-order keys)', () => {
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const le = (b: Uint8Array) => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
    const toLe = (n: bigint) =>
      Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
    const agree = (pub: Uint8Array, msg: Uint8Array, sig: Uint8Array) => {
      const ours = verifyBoth(pub, msg, sig);
      expect(ours).toBe(PublicKey.deserialize(ab(pub)).verify(ab(msg), ab(sig)));
      return ours;
    };
    let accepted = 0;
    for (let i = 0; i < 60; i++) {
      const lsPriv = PrivateKey.generate();
      const pub = lsPriv.getPublicKey().serialize();
      const msg = randomBytes(i);
      const sig = lsPriv.sign(ab(msg));
      // The unused top bit of the u-coordinate.
      const highBit = pub.slice();
      highBit[32] = (highBit[32] as number) | 0x80;
      agree(highBit, msg, sig);
      // s + q (non-canonical scalar) keeping the sign bit.
      const s = le(sig.slice(32).map((b, j) => (j === 31 ? b & 0x7f : b))) + L;
      if (s < 2n ** 253n) {
        const alt = toLe(s);
        alt[31] = (alt[31] as number) | ((sig[63] as number) & 0x80);
        if (agree(pub, msg, new Uint8Array([...sig.subarray(0, 32), ...alt]))) accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(0);
    // Low-order and degenerate public keys (u = 0, 1, p - 1, p, p + 1) with random signatures.
    const p = 2n ** 255n - 19n;
    for (const u of [0n, 1n, p - 1n, p, p + 1n]) {
      agree(new Uint8Array([5, ...toLe(u)]), randomBytes(10), randomBytes(64));
    }
  });

  it('forgeries for small-order keys get the same verdict as libsignal (no extra leniency or strictness)', () => {
    // With a small-order public key, sB - hA takes one of 8 values whatever h is, so
    // "signatures" can be made without any private key. libsignal does not screen such keys;
    // the point is that our two paths and libsignal agree, whatever the verdict.
    const Point = ed25519.Point;
    const p = 2n ** 255n - 19n;
    const toLe = (n: bigint) =>
      Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
    const smallOrderU = [
      0n,
      1n,
      325606250916557431795983626356110631294008115727848805560023387167927233504n,
      39382357235489614581723060781553021112529911719440698176882885853963445705823n,
      p - 1n,
    ];
    let accepted = 0;
    for (const u of smallOrderU) {
      for (const signBit of [0, 1]) {
        const pub = new Uint8Array([5, ...toLe(u)]);
        for (let attempt = 0; attempt < 16; attempt++) {
          const msg = randomBytes(20);
          const s = (BigInt(attempt) * 7919n + 12345n) % Point.Fn.ORDER;
          // Guess the torsion term T = hA among the 8 small-order points; R = sB - T.
          const torsion = Point.fromHex(ED25519_TORSION_SUBGROUP[attempt % 8] as string);
          const R = Point.BASE.multiply(s).subtract(torsion).toBytes();
          const sBytes = toLe(s);
          sBytes[31] = (sBytes[31] as number) | (signBit << 7);
          const sig = new Uint8Array([...R, ...sBytes]);
          const ours = verifyBoth(pub, msg, sig);
          expect(ours).toBe(PublicKey.deserialize(ab(pub)).verify(ab(msg), ab(sig)));
          if (ours) accepted++;
        }
      }
    }
    expect(accepted).toBeGreaterThan(0); // some forgeries hit, so acceptance was compared too
  });

  it('signs with the derived backup-id key; the server-side libsignal check accepts it', () => {
    const aep = generateRecoveryKey();
    const uuid = randomUUID();
    const kp = deriveBackupIdKeyPair(deriveBackupKey(aep), uuid);
    const presentation = randomBytes(300);
    const sig = xeddsaSign(kp.privateKey, presentation);
    expect(PublicKey.deserialize(ab(kp.publicKey)).verify(ab(presentation), ab(sig))).toBe(true);
  });
});

function edwardsSignBit(libsignalSignature: Uint8Array): number {
  return ((libsignalSignature[63] as number) & 0x80) >> 7;
}
