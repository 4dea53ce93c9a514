/**
 * Coverage-guided fuzz targets (Jazzer.js, issue 7). Each takes the fuzzer's bytes and feeds one
 * parser; an expected rejection is a CofferError with a code from the package's ERROR_CODES, and
 * anything else (another exception, a hang, a memory blow-up) is a finding. Bundled with esbuild and
 * run by jazzer.soak.ts in the soak profile only (`npm run test:soak`).
 */
import {
  bytesSource,
  CofferError,
  ERROR_CODES as CRYPTO_CODES,
  openBackup,
  parseRecoveryKey,
} from '@coffer/crypto';
import { ERROR_CODES as FORMAT_CODES, readBackupAll, validateBackup } from '@coffer/format';

function expected(err: unknown, codes: Record<string, string>): void {
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof CofferError && typeof code === 'string' && Object.hasOwn(codes, code)) return;
  if (err instanceof Error && typeof code === 'string' && Object.hasOwn(codes, code)) return;
  throw err; // a finding
}

const KEY = { hmacKey: new Uint8Array(32).fill(7), aesKey: new Uint8Array(32).fill(9) };

export const targets: Record<string, (data: Buffer) => Promise<void> | void> = {
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
      await validateBackup(new Uint8Array(data), { purpose });
    }
  },
  'sealed-reader': async (data) => {
    try {
      for await (const _ of openBackup(bytesSource(new Uint8Array(data)), KEY)) {
        // consume
      }
    } catch (err) {
      expected(err, CRYPTO_CODES);
    }
  },
};
