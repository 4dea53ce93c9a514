// fileSource with reuseBuffer (one read buffer per pass, bench/README.md performance notes >
// Memory): the same bytes as the plain file source, chunks in one buffer, and openBackup still
// opens a sealed file through it.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { closeGzipWorkers, fileSource, openBackup, sealBackup } from '../src/index.ts';
import { ACI_1, AEP_M, messageBackupKey } from './_seal-helpers.ts';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-file-source-'));
});
afterAll(async () => {
  await closeGzipWorkers();
  await rm(dir, { recursive: true, force: true });
});

async function collect(
  chunks: AsyncIterable<Uint8Array>,
): Promise<{ bytes: Buffer; buffers: Set<ArrayBufferLike> }> {
  const parts: Buffer[] = [];
  const buffers = new Set<ArrayBufferLike>();
  for await (const c of chunks) {
    buffers.add(c.buffer);
    parts.push(Buffer.from(c)); // a copy: a reused chunk is valid only until the next one
  }
  return { bytes: Buffer.concat(parts), buffers };
}

it('reads the same bytes as the plain source, every chunk in one buffer', async () => {
  const data = randomBytes(100_000);
  const path = join(dir, 'data.bin');
  await writeFile(path, data);
  const plain = await fileSource(path, 4096);
  const reused = await fileSource(path, 4096, { reuseBuffer: true });
  expect(reused.size).toBe(data.length);
  for (const [start, end] of [
    [0, data.length],
    [1, 4097],
    [5000, 5000],
    [99_990, 100_000],
  ] as const) {
    const a = await collect(plain.read(start, end));
    const b = await collect(reused.read(start, end));
    expect(b.bytes.equals(data.subarray(start, end))).toBe(true);
    expect(b.bytes.equals(a.bytes)).toBe(true);
    expect(b.buffers.size).toBeLessThanOrEqual(1);
  }
  // Several chunks per pass, all in the same buffer (the plain source gives a new one each time).
  expect((await collect(reused.read(0, data.length))).buffers.size).toBe(1);
  expect((await collect(plain.read(0, data.length))).buffers.size).toBeGreaterThan(1);
  await expect(collect(reused.read(0, data.length + 1))).rejects.toThrow(RangeError);
});

it('openBackup opens a sealed file through a reused-buffer source', async () => {
  const key = messageBackupKey(AEP_M, ACI_1);
  const plaintext = randomBytes(300_000);
  const sealed: Buffer[] = [];
  for await (const c of sealBackup([plaintext], key)) sealed.push(Buffer.from(c));
  const path = join(dir, 'sealed.bin');
  await writeFile(path, Buffer.concat(sealed));
  const out: Buffer[] = [];
  for await (const c of openBackup(await fileSource(path, 8192, { reuseBuffer: true }), key))
    out.push(Buffer.from(c));
  expect(Buffer.concat(out).equals(plaintext)).toBe(true);
});

it('openBackup is done with every chunk before it asks for the next, whatever the chunk size', async () => {
  // A source that scribbles over each chunk as soon as it is asked for the next one: a reader that
  // kept a chunk (or a view of it) past that point would decrypt garbage and fail its checks. The
  // chunk sizes straddle Node's 16 KiB decrypt step (Platform.decryptStep) and are not multiples
  // of the cipher block, so steps end inside chunks and blocks span chunks.
  const key = messageBackupKey(AEP_M, ACI_1);
  const plaintext = Buffer.concat([randomBytes(200_000), Buffer.alloc(400_000, 'coffer ')]);
  const parts: Buffer[] = [];
  for await (const c of sealBackup([plaintext], key)) parts.push(Buffer.from(c));
  const sealed = Buffer.concat(parts);
  for (const chunkSize of [1000, 16 * 1024, 50_003, 1 << 20]) {
    let reads = 0;
    const source = {
      size: sealed.length,
      async *read(start: number, end: number) {
        const buf = new Uint8Array(chunkSize);
        for (let p = start; p < end; p += chunkSize) {
          const n = Math.min(chunkSize, end - p);
          buf.set(sealed.subarray(p, p + n));
          reads++;
          yield buf.subarray(0, n);
          buf.fill(0xaa);
        }
      },
    };
    const out: Buffer[] = [];
    for await (const c of openBackup(source, key)) out.push(Buffer.from(c));
    expect(Buffer.concat(out).equals(plaintext)).toBe(true);
    expect(reads).toBeGreaterThan(chunkSize < sealed.length ? 2 : 1);
  }
});
