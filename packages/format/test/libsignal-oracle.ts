// Test-only access to libsignal's validator (devDependency, AGPL: never imported from src/).
import * as MessageBackup from '@signalapp/libsignal-client/dist/MessageBackup.js';
import { BytesInputStream } from '../../../test-support/libsignal-input.ts';

/** libsignal's comparable string of an unencrypted backup, or `{error}` when it rejects it. */
export async function comparable(
  bytes: Uint8Array,
): Promise<{ ok: true; text: string } | { ok: false; error: string }> {
  try {
    const cb = await MessageBackup.ComparableBackup.fromUnencrypted(
      MessageBackup.Purpose.RemoteBackup,
      new BytesInputStream(bytes),
      BigInt(bytes.length),
    );
    return { ok: true, text: cb.comparableString() };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
