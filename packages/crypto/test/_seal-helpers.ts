// Test helpers for the sealed-stream tests: key derivation straight from spec 2.1 with node:crypto
// (independent of the crypto-keys code under test elsewhere), and the upstream vector identity.
import { hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import JSON5 from 'json5';
import protobuf from 'protobufjs';
import { vectorPath } from '../../../test-support/vectors.ts';

export const AEP_M = 'm'.repeat(64);
export const ACI_1 = '11111111-1111-1111-1111-111111111111';
export const FS_TOKEN_AB = new Uint8Array(32).fill(0xab);

const hkdf = (ikm: Uint8Array, info: Uint8Array, len: number, salt: Uint8Array = new Uint8Array(0)) =>
  new Uint8Array(hkdfSync('sha256', ikm, salt, info, len));
const enc = (s: string) => new TextEncoder().encode(s);
const cat = (...p: Uint8Array[]) => {
  const out = new Uint8Array(p.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of p) {
    out.set(x, o);
    o += x.length;
  }
  return out;
};

export function uuidBytes(u: string): Uint8Array {
  return Uint8Array.from(Buffer.from(u.replaceAll('-', ''), 'hex'));
}

/** spec 2.1: MessageBackupKey, legacy (no token) or with the forward-secrecy token. */
export function messageBackupKey(aep: string, aci: string, fsToken?: Uint8Array) {
  const backupKey = hkdf(enc(aep), enc('20240801_SIGNAL_BACKUP_KEY'), 32);
  const backupId = hkdf(backupKey, cat(enc('20241024_SIGNAL_BACKUP_ID:'), uuidBytes(aci)), 16);
  const k = fsToken
    ? hkdf(backupKey, cat(enc('20250708_SIGNAL_BACKUP_ENCRYPT_MESSAGE_BACKUP:'), backupId), 64, fsToken)
    : hkdf(backupKey, cat(enc('20241007_SIGNAL_BACKUP_ENCRYPT_MESSAGE_BACKUP:'), backupId), 64);
  return { hmacKey: k.slice(0, 32), aesKey: k.slice(32, 64) };
}

export const ENCRYPTED_DIR = ['libsignal', 'rust/message-backup/tests/res/test-cases/valid-encrypted'];

export function upstreamEncrypted(name: 'new-account' | 'legacy-account'): Uint8Array {
  return new Uint8Array(readFileSync(vectorPath(...ENCRYPTED_DIR, `${name}.binproto.encrypted`)));
}

let root: protobuf.Root | undefined;
/** The expected plaintext of an upstream vector: its .source.jsonproto encoded with protobufjs (spec 4). */
export function upstreamExpectedPlaintext(name: 'new-account' | 'legacy-account'): Uint8Array {
  root ??= protobuf.loadSync(vectorPath('../spec/Backup.proto'));
  const items = JSON5.parse(
    readFileSync(vectorPath(...ENCRYPTED_DIR, `${name}.binproto.encrypted.source.jsonproto`), 'utf8'),
  ) as unknown[];
  const info = root.lookupType('signal.backup.BackupInfo');
  const frame = root.lookupType('signal.backup.Frame');
  const parts = items.map((o, i) => {
    const t = i === 0 ? info : frame;
    return t.encodeDelimited(t.fromObject(o as Record<string, unknown>)).finish();
  });
  return cat(...parts);
}

export async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

export function modernMetadata(): Uint8Array {
  // MetadataPb { pair { ct: 48 bytes, pw_salt: 32 bytes }, iv: 12 bytes } (spec 3.1)
  const pair = Buffer.concat([
    Buffer.from([0x0a, 48]),
    Buffer.alloc(48, 0xcc),
    Buffer.from([0x12, 32]),
    Buffer.alloc(32, 0x50),
  ]);
  return new Uint8Array(
    Buffer.concat([
      Buffer.from([0x0a, pair.length]),
      pair,
      Buffer.from([0x12, 12]),
      Buffer.from('iv_12_bytes_'),
    ]),
  );
}
