import type { BackupSource } from '@coffer/crypto';

/**
 * The few things the SDK does differently in Node and in browsers. `node.ts` gives the Node
 * version (temp files, fs streams for tus); `memoryPlatform` works anywhere (browsers, small tests).
 */
export interface ClientPlatform {
  /** Writes a stream somewhere re-readable (the sealed file is uploaded and MAC-checked in two passes). */
  spool(stream: AsyncIterable<Uint8Array>): Promise<Spooled>;
  /** What tus-js-client accepts as upload input for bytes in memory. */
  tusInputFromBytes(bytes: Uint8Array): unknown;
}

export interface Spooled {
  size: number;
  source: BackupSource;
  /** A fresh tus-js-client input over the whole content (re-readable, so uploads can resume). */
  tusInput(): unknown;
  dispose(): Promise<void>;
}

/** Keeps spooled bytes in memory (browsers: as a Blob, so tus can slice it). */
export const memoryPlatform: ClientPlatform = {
  async spool(stream) {
    const parts: Uint8Array[] = [];
    let size = 0;
    for await (const c of stream) {
      parts.push(c.slice());
      size += c.length;
    }
    const all = new Uint8Array(size);
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    return {
      size,
      source: {
        size,
        async *read(start: number, end: number) {
          for (let p = start; p < end; p += 1 << 20) yield all.subarray(p, Math.min(end, p + (1 << 20)));
        },
      },
      tusInput: () => memoryPlatform.tusInputFromBytes(all),
      async dispose() {},
    };
  },
  tusInputFromBytes(bytes) {
    return typeof Blob !== 'undefined' && typeof window !== 'undefined'
      ? new Blob([bytes as BlobPart])
      : bytes;
  },
};
