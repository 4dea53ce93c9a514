// Parallel DEFLATE (gzip-parallel.ts) makes ONE standard gzip member for any block size, worker
// count and input chunking; zlib reads it, our strict reader reads it, and the size stays close to
// single-threaded gzip.
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { propertyRuns } from '../../../test-support/profile.ts';
import { closeGzipWorkers, gzipParallel } from '../src/gzip-parallel.ts';
import { gunzipStrict } from '../src/gzip-strict.ts';
import { getPlatform } from '../src/platform.ts';
import { collect } from '../src/sealed-writer.ts';

afterAll(() => closeGzipWorkers());

function text(n: number, seed: number): Uint8Array {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'hello', 'world', '🙂', 'x'];
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  let o = 0;
  const te = new TextEncoder();
  while (o < n) {
    x = (x * 1664525 + 1013904223) >>> 0;
    const w = te.encode(`${words[x % words.length]}${x % 97} `);
    out.set(w.subarray(0, Math.min(w.length, n - o)), o);
    o += w.length;
  }
  return out;
}

async function* chunks(b: Uint8Array, size: number) {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

describe('gzipParallel', () => {
  for (const [blockSize, workers] of [
    [1000, 0],
    [1000, 2],
    [40_000, 2],
    [32 * 1024, 1],
    [1 << 20, 2],
  ] as const) {
    it(`blockSize ${blockSize}, ${workers} workers: one valid member, size close to gzip`, async () => {
      const plain = text(300_000, blockSize + workers);
      const gz = await collect(gzipParallel(chunks(plain, 7777), { level: 6, workers, blockSize }));
      expect(Buffer.from(gunzipSync(gz)).equals(Buffer.from(plain))).toBe(true);
      const platform = await getPlatform('node');
      expect(
        Buffer.from(await collect(gunzipStrict(chunks(gz, 999), platform))).equals(Buffer.from(plain)),
      ).toBe(true);
      // Dictionaries keep cross-block matches: even 1000-byte blocks stay within a few % of gzip.
      expect(gz.length / gzipSync(plain, { level: 6 }).length).toBeLessThan(
        blockSize < 32 * 1024 ? 1.15 : 1.01,
      );
    });
  }

  it('random inputs and chunkings round-trip', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 20_000 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 3000 }),
        async (data, blockSize, chunk) => {
          const gz = await collect(gzipParallel(chunks(data, chunk), { level: 4, workers: 0, blockSize }));
          expect(Buffer.from(gunzipSync(gz)).equals(Buffer.from(data))).toBe(true);
        },
      ),
      { numRuns: propertyRuns(100) },
    );
  });
});
