/**
 * Coverage-guided fuzz targets for the parsers (Jazzer.js, issue 7). Each takes the fuzzer's bytes
 * and feeds one parser; an expected rejection is an error with a code from the package's
 * ERROR_CODES, and anything else (another exception, a hang, a memory blow-up) is a finding. Each
 * `<name>.fuzz.ts` exports one of them; jazzer.soak.ts bundles it and runs it in the soak profile.
 * The server's request parsers have their own target (server-target.ts): it needs a server.
 */
import {
  bytesSource,
  CofferError,
  ERROR_CODES as CRYPTO_CODES,
  deriveMessageBackupKeyFromRecoveryKey,
  openBackup,
  parseRecoveryKey,
} from '@coffer/crypto';
import { ERROR_CODES as FORMAT_CODES, readBackupAll, validateBackup } from '@coffer/format';

export type FuzzTarget = (data: Buffer) => Promise<void> | void;

function expected(err: unknown, codes: Record<string, string>): void {
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof CofferError && typeof code === 'string' && Object.hasOwn(codes, code)) return;
  if (err instanceof Error && typeof code === 'string' && Object.hasOwn(codes, code)) return;
  throw err; // a finding
}

/**
 * The key of libsignal's valid-encrypted/legacy-account vector (account entropy pool "m" x 64,
 * ACI 1111...; packages/crypto/test/keys-vectors.test.ts), so seeds sealed under it open and the
 * fuzzer starts from inputs that pass the MAC.
 */
export const SEALED_FUZZ_AEP = 'm'.repeat(64);
export const SEALED_FUZZ_ACI = '11111111-1111-1111-1111-111111111111';
export const SEALED_FUZZ_KEY = deriveMessageBackupKeyFromRecoveryKey(SEALED_FUZZ_AEP, SEALED_FUZZ_ACI);

export const targets: Record<string, FuzzTarget> = {
  'recovery-key': (data) => {
    try {
      parseRecoveryKey(data.toString('utf8'));
    } catch (err) {
      expected(err, CRYPTO_CODES);
    }
  },
  'frame-reader': async (data) => {
    try {
      await readBackupAll(new Uint8Array(data), { maxFrameSize: 1 << 20 });
    } catch (err) {
      expected(err, FORMAT_CODES);
    }
  },
  validator: async (data) => {
    for (const purpose of ['remote-backup', 'device-transfer'] as const) {
      // validateBackup returns rejections; it throws only what is not a rejection (a finding)
      const r = await validateBackup(new Uint8Array(data), { purpose });
      if (!r.ok) expected(r.error, FORMAT_CODES);
    }
  },
  'sealed-reader': async (data) => {
    try {
      for await (const _ of openBackup(bytesSource(new Uint8Array(data)), SEALED_FUZZ_KEY)) {
        // consume
      }
    } catch (err) {
      expected(err, CRYPTO_CODES);
    }
  },
};
