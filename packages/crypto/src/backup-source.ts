import { abytes } from './_assert.ts';
import { importNodeOnly } from './platform.ts';

/**
 * A re-readable sealed file (see CONTRACTS.md). Readers make two passes: first the MAC over the
 * whole file, then decryption (spec 3.2), so the source must return the same bytes every time.
 * `read(start, end)` yields bytes `[start, end)` (end exclusive) in order, in chunks of any size.
 */
export interface BackupSource {
  readonly size: number;
  read(start: number, end: number): AsyncIterable<Uint8Array>;
}

/** A source over bytes already in memory (tests, small files, browser `File` contents). */
export function bytesSource(bytes: Uint8Array, chunkSize = 1 << 20): BackupSource {
  abytes('bytes', bytes);
  return {
    size: bytes.length,
    async *read(start: number, end: number) {
      checkRange(start, end, bytes.length);
      for (let p = start; p < end; p += chunkSize) yield bytes.subarray(p, Math.min(end, p + chunkSize));
    },
  };
}

export interface FileSourceOptions {
  /**
   * Read every chunk of one `read` into the same buffer: a chunk is then valid only until the
   * iterator is resumed, so the consumer must use it (or copy it) before asking for the next one,
   * as `openBackup` does. Without it each chunk is a fresh buffer, and V8 frees those only at a
   * collection that their tiny JS wrappers rarely cause: a verify of 1M messages (two passes over
   * 38 MB) piled up about 25 MiB of them (bench/README.md, performance notes > Memory). Pair it
   * with a small `chunkSize` such as 64 KiB, as `sealedFileSource` does.
   */
  reuseBuffer?: boolean;
}

/**
 * A source over a file (Node only: node:fs is imported on first use so that browser bundles of
 * this package never load it). Each `read` opens its own stream, so passes do not interfere.
 */
export async function fileSource(
  path: string,
  chunkSize = 1 << 20,
  opts: FileSourceOptions = {},
): Promise<BackupSource> {
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new RangeError('chunkSize must be positive');
  const fs = await importNodeOnly<typeof import('node:fs')>('node:fs');
  const { size } = await fs.promises.stat(path);
  if (opts.reuseBuffer) {
    return {
      size,
      async *read(start: number, end: number) {
        checkRange(start, end, size);
        if (end === start) return;
        const fh = await fs.promises.open(path, 'r');
        const buf = new Uint8Array(Math.min(chunkSize, end - start));
        try {
          for (let pos = start; pos < end; ) {
            const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
            // The file shrank: stop short and let the reader report a truncated file.
            if (bytesRead === 0) return;
            pos += bytesRead;
            yield buf.subarray(0, bytesRead);
          }
        } finally {
          await fh.close();
        }
      },
    };
  }
  return {
    size,
    async *read(start: number, end: number) {
      checkRange(start, end, size);
      if (end === start) return;
      const stream = fs.createReadStream(path, { start, end: end - 1, highWaterMark: chunkSize });
      try {
        for await (const chunk of stream) {
          const b = chunk as Buffer;
          yield new Uint8Array(b.buffer, b.byteOffset, b.length);
        }
      } finally {
        stream.destroy();
      }
    },
  };
}

/**
 * How a sealed file should be read for `openBackup` (which is done with each chunk before it asks
 * for the next): 64 KiB chunks into one reused buffer. `coffer verify`, `coffer restore --from` and
 * the Node client's downloaded backups read this way; fresh 1 MiB buffers per read piled up outside
 * V8's heap (restore of 1M messages 113-116 -> 86-88 MiB peak RSS with the 16 KiB decrypt steps;
 * bench/README.md, restore memory). Any other consumer that keeps chunks needs `fileSource`.
 */
export function sealedFileSource(path: string): Promise<BackupSource> {
  return fileSource(path, 64 * 1024, { reuseBuffer: true });
}

function checkRange(start: number, end: number, size: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > size) {
    throw new RangeError(`read range [${start}, ${end}) is outside 0..${size}`);
  }
}
