// Cross-check (spec 10): files Coffer seals are accepted by libsignal's MessageBackup.validate,
// which checks the HMAC, decrypts, gunzips and validates every frame.
import { Aci } from '@signalapp/libsignal-client';
import { BackupForwardSecrecyToken } from '@signalapp/libsignal-client/dist/AccountKeys.js';
import * as MessageBackup from '@signalapp/libsignal-client/dist/MessageBackup.js';
import protobuf from 'protobufjs';
import { afterAll, describe, expect, it } from 'vitest';
import { BytesInputStream } from '../../../test-support/libsignal-input.ts';
import { vectorPath } from '../../../test-support/vectors.ts';
import { closeGzipWorkers, encodeSealedHeader, sealBackupToBytes } from '../src/index.ts';
import {
  ACI_1,
  AEP_M,
  chunked,
  FS_TOKEN_AB,
  messageBackupKey,
  modernMetadata,
  upstreamExpectedPlaintext,
} from './_seal-helpers.ts';

afterAll(() => closeGzipWorkers());

async function libsignalValidate(file: Uint8Array, fsToken?: Uint8Array) {
  const mbk = new MessageBackup.MessageBackupKey({
    accountEntropy: AEP_M,
    aci: Aci.fromUuid(ACI_1),
    ...(fsToken ? { forwardSecrecyToken: new BackupForwardSecrecyToken(new Uint8Array(fsToken)) } : {}),
  });
  return MessageBackup.validate(
    mbk,
    MessageBackup.Purpose.RemoteBackup,
    () => new BytesInputStream(file),
    BigInt(file.length),
  );
}

/** The legacy vector's plaintext with a large BackupInfo.debugInfo, so gzip spans several parallel blocks. */
function bigValidPlaintext(debugBytes: number): Uint8Array {
  const root = protobuf.loadSync(vectorPath('../spec/Backup.proto'));
  const Info = root.lookupType('signal.backup.BackupInfo');
  const plain = upstreamExpectedPlaintext('legacy-account');
  const reader = protobuf.Reader.create(plain);
  const info = Info.decodeDelimited(reader) as unknown as Record<string, unknown>;
  const rest = plain.subarray(reader.pos);
  const debug = new Uint8Array(debugBytes);
  let x = 1;
  for (let i = 0; i < debug.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    debug[i] = 97 + ((x >>> 16) % 7); // compressible, not trivial
  }
  info.debugInfo = debug;
  const head = Info.encodeDelimited(Info.fromObject(info)).finish();
  return new Uint8Array(Buffer.concat([head, rest]));
}

describe('libsignal MessageBackup.validate accepts what Coffer seals', () => {
  for (const platform of ['node', 'web'] as const) {
    it(`legacy layout [${platform}]`, async () => {
      const sealed = await sealBackupToBytes(
        [upstreamExpectedPlaintext('legacy-account')],
        messageBackupKey(AEP_M, ACI_1),
        {
          platform,
        },
      );
      const out = await libsignalValidate(sealed);
      expect(out.errorMessage).toBeNull();
      expect(out.ok).toBe(true);
    });

    it(`modern layout with the FS token [${platform}]`, async () => {
      const sealed = await sealBackupToBytes(
        [upstreamExpectedPlaintext('new-account')],
        messageBackupKey(AEP_M, ACI_1, FS_TOKEN_AB),
        { header: encodeSealedHeader(modernMetadata()), platform },
      );
      const out = await libsignalValidate(sealed, FS_TOKEN_AB);
      expect(out.errorMessage).toBeNull();
      expect(out.ok).toBe(true);
    });
  }

  it('a multi-block parallel gzip stream (5 MiB plaintext, 1 MiB blocks) is accepted', async () => {
    const plain = bigValidPlaintext(5 * (1 << 20) + 333);
    const sealed = await sealBackupToBytes(chunked(plain, 300_000), messageBackupKey(AEP_M, ACI_1));
    const out = await libsignalValidate(sealed);
    expect(out.errorMessage).toBeNull();
    expect(out.ok).toBe(true);
  });

  it('libsignal rejects the same file opened with the wrong token (the check can fail)', async () => {
    const sealed = await sealBackupToBytes(
      [upstreamExpectedPlaintext('new-account')],
      messageBackupKey(AEP_M, ACI_1, FS_TOKEN_AB),
      { header: encodeSealedHeader(modernMetadata()) },
    );
    const out = await libsignalValidate(sealed, new Uint8Array(32).fill(0xac));
    expect(out.ok).toBe(false);
  });
});
