// Memory of the S3 blob store under many large puts at once (issue 8): every multipart upload of a
// store shares one budget of part buffers (maxPartsInMemory), so 50 concurrent commits of large
// backups no longer hold 50 * (partConcurrency + 1) parts, and part buffers are reused instead of
// left to the GC. Observed at the client: UploadPart requests in flight across all puts never exceed
// the budget, no more distinct part buffers than the budget were sent, every object reads back whole.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Prefix, type S3Prefix } from '../../../../test-support/services.ts';
import { parseS3BlobStoreUrl } from '../../src/storage/blob-store-factory.ts';
import { S3BlobStore } from '../../src/storage/s3-blob-store.ts';
import { createS3Client } from '../../src/storage/s3-client.ts';

const MiB = 1024 * 1024;
const PART = 5 * MiB;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function* chunks(data: Buffer, size: number) {
  for (let o = 0; o < data.length; o += size) yield new Uint8Array(data.subarray(o, o + size));
}

describe('S3 blob store: one part budget for all uploads', () => {
  let prefix: S3Prefix;
  beforeAll(async () => {
    prefix = await createS3Prefix('budget');
  });
  afterAll(async () => prefix?.cleanup());

  it('keeps UploadPart requests in flight across concurrent large puts within maxPartsInMemory', async () => {
    const opts = parseS3BlobStoreUrl(prefix.url);
    const client = createS3Client(opts);
    let inFlight = 0;
    let maxInFlight = 0;
    const partBuffers = new Set<ArrayBufferLike>();
    client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'UploadPartCommand') return next(args);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        partBuffers.add(((args.input as { Body: Uint8Array }).Body as Uint8Array).buffer);
        try {
          return await next(args);
        } finally {
          inFlight--;
        }
      },
      { step: 'initialize', name: 'countUploadParts' },
    );
    const store = new S3BlobStore({
      ...opts,
      client,
      partSize: PART,
      partConcurrency: 2,
      maxPartsInMemory: 3,
      streamPutMax: PART,
    });
    try {
      const objects = Array.from({ length: 6 }, () => randomBytes(3 * PART + 4321));
      await Promise.all(
        objects.map((d, i) => store.put(`big/${i}`, chunks(d, 65_537), { length: d.length })),
      );
      for (const [i, d] of objects.entries()) {
        const { body } = await store.get(`big/${i}`);
        const parts: Buffer[] = [];
        for await (const c of body) parts.push(Buffer.from(c));
        expect(sha(Buffer.concat(parts))).toBe(sha(d));
      }
      // Six puts of four parts with two each in flight would reach 12 without the shared budget.
      expect(maxInFlight).toBeGreaterThan(0);
      expect(maxInFlight).toBeLessThanOrEqual(3);
      // ... and the same few part buffers carried all 24 parts (fresh arrays would be 24).
      expect(partBuffers.size).toBeLessThanOrEqual(3);
    } finally {
      await store.close();
      client.destroy();
    }
  }, 120_000);
});
