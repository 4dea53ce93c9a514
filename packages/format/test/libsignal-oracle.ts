// Test-only access to libsignal's validator (devDependency, AGPL: never imported from src/).
import { InputStream } from '@signalapp/libsignal-client/dist/io.js';
import * as MessageBackup from '@signalapp/libsignal-client/dist/MessageBackup.js';

class BufStream extends InputStream {
  #pos = 0;
  constructor(private readonly data: Uint8Array) {
    super();
  }
  override async read(amount: number): Promise<Uint8Array<ArrayBuffer>> {
    const n = Math.min(amount, this.data.length - this.#pos);
    const r = new Uint8Array(this.data.subarray(this.#pos, this.#pos + n));
    this.#pos += n;
    return r;
  }
  override async skip(amount: number): Promise<void> {
    if (this.#pos + amount > this.data.length) throw new Error('skip past end');
    this.#pos += amount;
  }
}

/** libsignal's comparable string of an unencrypted backup, or `{error}` when it rejects it. */
export async function comparable(
  bytes: Uint8Array,
): Promise<{ ok: true; text: string } | { ok: false; error: string }> {
  try {
    const cb = await MessageBackup.ComparableBackup.fromUnencrypted(
      MessageBackup.Purpose.RemoteBackup,
      new BufStream(bytes),
      BigInt(bytes.length),
    );
    return { ok: true, text: cb.comparableString() };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
