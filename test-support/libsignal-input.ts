// libsignal's readers take its own InputStream; this one serves bytes held in memory. Test and
// benchmark code only: @signalapp/libsignal-client is an AGPL devDependency, never imported from src/.
import { InputStream } from '@signalapp/libsignal-client/dist/io.js';

export class BytesInputStream extends InputStream {
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
