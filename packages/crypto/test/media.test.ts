// Media (spec 5): attachment encryption and the backup-tier outer layer, against
// /work/shared/vectors/generated/crypto-vectors.json and libsignal's incremental MAC.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import {
  DigestingPassThrough,
  everyNthByte,
  inferChunkSize,
} from '@signalapp/libsignal-client/dist/incremental_mac.js';
import { describe, expect, it } from 'vitest';
import { vectorPath } from '../../../test-support/vectors.ts';
import {
  attachmentBlobSize,
  bytesSource,
  incrementalMacChunkSize,
  logPaddedSize,
  mediaTierSize,
  openAttachment,
  openMediaTier,
  sealAttachment,
  sealAttachmentToBytes,
  sealMediaTier,
} from '../src/index.ts';
import { collect } from '../src/sealed-writer.ts';

const V = JSON.parse(readFileSync(vectorPath('generated', 'crypto-vectors.json'), 'utf8')).cases;
const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const fixed = (h: string) => () => hex(h);
const PLATFORMS = ['node', 'web'] as const;

function multiChunkPlaintext(): Uint8Array {
  const p = new Uint8Array(150_000);
  for (let i = 0; i < p.length; i++) p[i] = (i * 7 + 3) & 0xff;
  return p;
}

async function libsignalIncrementalMac(
  blob: Uint8Array,
  macKey: Uint8Array,
  chunkSize?: number,
): Promise<Uint8Array> {
  const t = new DigestingPassThrough(
    new Uint8Array(macKey),
    chunkSize === undefined ? inferChunkSize(blob.length) : everyNthByte(chunkSize),
  );
  const sink = new PassThrough();
  t.pipe(sink);
  sink.resume();
  await new Promise<void>((res, rej) => {
    t.on('error', rej);
    sink.on('end', res);
    for (let i = 0; i < blob.length; i += 100_000) t.write(blob.subarray(i, i + 100_000));
    t.end();
  });
  return t.getFinalDigest();
}

describe('padding and sizes (spec 3.3, 5.1, 5.3)', () => {
  it('logPaddedSize matches the vector samples', () => {
    for (const [n, want] of Object.entries(V.legacyBucketPaddedLength.samples as Record<string, number>)) {
      expect(logPaddedSize(Number(n)), n).toBe(want);
    }
  });
  it('blob and media-tier sizes match the vectors and the server formula', () => {
    expect(attachmentBlobSize(26)).toBe(V.attachmentSmall.ciphertextBlobSize);
    expect(attachmentBlobSize(150_000)).toBe(V.attachmentMultiChunk.ciphertextBlobSize);
    expect(mediaTierSize(V.backupTierCopyOfMultiChunk.innerObjectLength_copyRequestObjectLength)).toBe(
      V.backupTierCopyOfMultiChunk.outerObjectSize,
    );
  });
  it('incremental MAC chunk size rule (64 KiB / len/256 / 2 MiB)', () => {
    expect(incrementalMacChunkSize(0)).toBe(65536);
    expect(incrementalMacChunkSize(16 * 1024 * 1024 - 1)).toBe(65536);
    expect(incrementalMacChunkSize(16 * 1024 * 1024)).toBe(65536);
    expect(incrementalMacChunkSize(16 * 1024 * 1024 + 1)).toBe(65537);
    expect(incrementalMacChunkSize(512 * 1024 * 1024 - 1)).toBe(2 * 1024 * 1024);
    expect(incrementalMacChunkSize(512 * 1024 * 1024)).toBe(2 * 1024 * 1024);
    expect(incrementalMacChunkSize(5e9)).toBe(2 * 1024 * 1024);
  });
});

describe.each(PLATFORMS)('attachment vectors [%s]', (platform) => {
  it('attachmentSmall: blob, digest, plaintextHash and incremental MAC byte for byte', async () => {
    const c = V.attachmentSmall;
    const r = await sealAttachmentToBytes(
      new TextEncoder().encode(c.plaintextUtf8),
      hex(c.keys64_aesThenMac),
      {
        rng: fixed(c.iv),
        platform,
      },
    );
    expect(toHex(r.blob)).toBe(c.ciphertextBlobHex_ivCtMac);
    expect(toHex(r.digest)).toBe(c.digest_sha256OfBlob);
    expect(toHex(r.plaintextHash)).toBe(c.plaintextHash_sha256);
    expect(toHex(r.incrementalMac as Uint8Array)).toBe(c.incrementalMac);
    expect(r.chunkSize).toBe(c.incrementalMacChunkSize);
    expect(r.size).toBe(26);
    const opened = await collect(
      openAttachment(r.blob, r.keys, {
        size: r.size,
        plaintextHash: r.plaintextHash,
        digest: r.digest,
        platform,
      }),
    );
    expect(new TextDecoder().decode(opened)).toBe(c.plaintextUtf8);
  });

  it('attachmentMultiChunk and its backup-tier copy', async () => {
    const c = V.attachmentMultiChunk;
    const t = V.backupTierCopyOfMultiChunk;
    const plain = multiChunkPlaintext();
    async function* stream() {
      for (let i = 0; i < plain.length; i += 10_007) yield plain.subarray(i, i + 10_007);
    }
    const s = sealAttachment(stream(), hex(c.keys64_aesThenMac), {
      rng: fixed(c.iv),
      platform,
      size: plain.length,
    });
    const blob = await collect(s.blob);
    const r = await s.result;
    expect(blob.length).toBe(c.ciphertextBlobSize);
    expect(sha(blob)).toBe(c.ciphertextBlobSha256);
    expect(toHex(r.digest)).toBe(c.digest_sha256OfBlob);
    expect(toHex(r.plaintextHash)).toBe(c.plaintextHash_sha256);
    expect(toHex(r.incrementalMac as Uint8Array)).toBe(c.incrementalMac);
    const mk = hex(t.mediaEncryptionKey_hmacThenAes);
    const mediaKey = { hmacKey: mk.slice(0, 32), aesKey: mk.slice(32) };
    const outer = await collect(sealMediaTier(blob, mediaKey, { rng: fixed(t.outerIv), platform }));
    expect(outer.length).toBe(t.outerObjectSize);
    expect(sha(outer)).toBe(t.outerObjectSha256);
    const inner = await collect(openMediaTier(bytesSource(outer, 4096), mediaKey, { platform }));
    expect(sha(inner)).toBe(c.ciphertextBlobSha256);
    const opened = await collect(
      openAttachment(bytesSource(inner, 1000), r.keys, {
        size: plain.length,
        plaintextHash: r.plaintextHash,
        incrementalMac: r.incrementalMac as Uint8Array,
        chunkSize: r.chunkSize as number,
        platform,
      }),
    );
    expect(Buffer.from(opened).equals(Buffer.from(plain))).toBe(true);
  });
});

describe('contract forms', () => {
  it('sealAttachment(plaintext, keys64, rng) and sealMediaTier(blob, key, rng) take a bare rng', async () => {
    const c = V.attachmentSmall;
    const s = sealAttachment(
      new TextEncoder().encode(c.plaintextUtf8),
      hex(c.keys64_aesThenMac),
      fixed(c.iv),
    );
    expect(toHex(await collect(s.blob))).toBe(c.ciphertextBlobHex_ivCtMac);
    const t = V.backupTierCopyOfMultiChunk;
    const mk = hex(t.mediaEncryptionKey_hmacThenAes);
    const a = await collect(
      sealMediaTier(
        new Uint8Array(100),
        { hmacKey: mk.slice(0, 32), aesKey: mk.slice(32) },
        fixed(t.outerIv),
      ),
    );
    expect(toHex(a.subarray(0, 16))).toBe(t.outerIv);
  });
});

describe('incremental MAC agrees with libsignal DigestingPassThrough', () => {
  for (const size of [0, 1, 65_000, 65_536 * 2 - 80, 300_000, 16 * 1024 * 1024 + 5000]) {
    it(`plaintext ${size} bytes`, async () => {
      const plain = new Uint8Array(size).map((_, i) => (i * 13) & 0xff);
      const r = await sealAttachmentToBytes(plain);
      expect(r.chunkSize).toBe(incrementalMacChunkSize(r.blob.length));
      const theirs = await libsignalIncrementalMac(r.blob, r.keys.subarray(32), r.chunkSize);
      expect(toHex(r.incrementalMac as Uint8Array)).toBe(toHex(theirs));
      const inferred = await libsignalIncrementalMac(r.blob, r.keys.subarray(32));
      expect(toHex(r.incrementalMac as Uint8Array)).toBe(toHex(inferred));
    });
  }

  it('a stream of unannounced length still gets the incremental MAC below 16 MiB, and not above', async () => {
    async function* s(n: number) {
      yield new Uint8Array(n);
    }
    const small = sealAttachment(s(100_000));
    await collect(small.blob);
    expect((await small.result).incrementalMac).toBeDefined();
    const big = sealAttachment(s(17 * 1024 * 1024));
    await collect(big.blob);
    expect((await big.result).incrementalMac).toBeUndefined();
  });
});

describe('tampering and misuse', () => {
  it('every class of single-byte change in an attachment blob is caught before any plaintext', async () => {
    const plain = multiChunkPlaintext();
    const r = await sealAttachmentToBytes(plain);
    const n = r.blob.length;
    for (const pos of [0, 15, 16, 17, 1000, n - 33, n - 32, n - 1]) {
      const bad = r.blob.slice();
      bad[pos] = (bad[pos] as number) ^ 0x40;
      const got: Uint8Array[] = [];
      const e = await (async () => {
        for await (const p of openAttachment(bad, r.keys, { size: r.size, plaintextHash: r.plaintextHash }))
          got.push(p);
      })().catch((x: unknown) => x as { code: string });
      expect((e as { code: string }).code, `pos ${pos}`).toBe('COFFER_ERR_MEDIA_MAC');
      expect(got).toHaveLength(0);
    }
  });

  it('wrong digest, wrong plaintext hash, wrong incremental MAC, wrong size, truncation, wrong keys', async () => {
    const plain = new Uint8Array(5000).fill(42);
    const r = await sealAttachmentToBytes(plain);
    const code = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: { code?: string }) => e.code ?? String(e),
      );
    const open = (blob: Uint8Array, o: Parameters<typeof openAttachment>[2], keys = r.keys) =>
      code(collect(openAttachment(blob, keys, o)));
    const other = new Uint8Array(32).fill(1);
    expect(await open(r.blob, { size: r.size, digest: other })).toBe('COFFER_ERR_MEDIA_DIGEST');
    expect(await open(r.blob, { size: r.size, plaintextHash: other })).toBe(
      'COFFER_ERR_MEDIA_PLAINTEXT_HASH',
    );
    expect(
      await open(r.blob, {
        size: r.size,
        digest: r.digest,
        incrementalMac: other,
        chunkSize: r.chunkSize as number,
      }),
    ).toBe('COFFER_ERR_MEDIA_INCREMENTAL_MAC');
    // One zero byte of padding more is a different plaintext: the hash catches it.
    expect(await open(r.blob, { size: r.size + 1, plaintextHash: r.plaintextHash })).toBe(
      'COFFER_ERR_MEDIA_PLAINTEXT_HASH',
    );
    expect(await open(r.blob, { size: r.size - 1, plaintextHash: r.plaintextHash })).toBe(
      'COFFER_ERR_MEDIA_CORRUPT',
    ); // non-zero "padding"
    expect(await open(r.blob, { size: 100_000, plaintextHash: r.plaintextHash })).toBe(
      'COFFER_ERR_MEDIA_CORRUPT',
    );
    for (const cut of [0, 1, 16, 63, r.blob.length - 1, r.blob.length - 16]) {
      const c = await open(r.blob.slice(0, cut), { size: r.size, plaintextHash: r.plaintextHash });
      expect(c, `cut ${cut}`).toBe(
        cut === r.blob.length - 16 ? 'COFFER_ERR_MEDIA_MAC' : 'COFFER_ERR_MEDIA_TRUNCATED',
      );
    }
    const swapped = new Uint8Array([...r.keys.subarray(32), ...r.keys.subarray(0, 32)]); // hmac||aes order trap
    expect(await open(r.blob, { size: r.size, plaintextHash: r.plaintextHash }, swapped)).toBe(
      'COFFER_ERR_MEDIA_MAC',
    );
    expect(await open(r.blob, { size: r.size })).toMatch(/plaintextHash or opts.digest/);
    expect(await open(r.blob, { size: r.size, digest: r.digest })).toBe('ok');
  });

  it('media tier: tampering, truncation and a wrong media key are rejected; nothing leaks first', async () => {
    const inner = (await sealAttachmentToBytes(new Uint8Array(70_000).fill(3))).blob;
    const key = { hmacKey: new Uint8Array(32).fill(1), aesKey: new Uint8Array(32).fill(2) };
    const outer = await collect(sealMediaTier(inner, key));
    expect(outer.length).toBe(mediaTierSize(inner.length));
    const code = async (o: Uint8Array, k = key) => {
      const got: Uint8Array[] = [];
      try {
        for await (const p of openMediaTier(o, k)) got.push(p);
        return 'ok';
      } catch (e) {
        expect(got).toHaveLength(0);
        return (e as { code: string }).code;
      }
    };
    expect(await code(outer)).toBe('ok');
    for (const pos of [0, 16, 40_000, outer.length - 1]) {
      const bad = outer.slice();
      bad[pos] = (bad[pos] as number) ^ 1;
      expect(await code(bad)).toBe('COFFER_ERR_MEDIA_MAC');
    }
    expect(await code(outer.slice(0, outer.length - 1))).toBe('COFFER_ERR_MEDIA_TRUNCATED');
    expect(await code(outer, { hmacKey: key.aesKey, aesKey: key.hmacKey })).toBe('COFFER_ERR_MEDIA_MAC');
  });

  it('round trips across platforms for several sizes', async () => {
    for (const size of [0, 1, 540, 541, 542, 65_535, 65_536, 1_000_001]) {
      const plain = new Uint8Array(size).map((_, i) => (i * 31) & 0xff);
      const keys = new Uint8Array(64).fill(9);
      const a = await sealAttachmentToBytes(plain, keys, { rng: fixed('00'.repeat(16)), platform: 'node' });
      const b = await sealAttachmentToBytes(plain, keys, { rng: fixed('00'.repeat(16)), platform: 'web' });
      expect(toHex(a.blob) === toHex(b.blob)).toBe(true);
      const back = await collect(
        openAttachment(a.blob, keys, { size, plaintextHash: a.plaintextHash, platform: 'web' }),
      );
      expect(Buffer.from(back).equals(Buffer.from(plain))).toBe(true);
    }
  });
});

describe('hashing work follows the request (issue 8)', () => {
  const big = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * seed + 5) & 0xff);

  it('digest: false / plaintextHash: false give the same blob and MACs and leave those fields out', async () => {
    for (const size of [5000, 3 * 1024 * 1024 + 7]) {
      const plain = big(size, 11);
      const keys = new Uint8Array(64).fill(4);
      const rng = fixed('07'.repeat(16));
      const full = await sealAttachmentToBytes(plain, keys, { rng });
      const lean = sealAttachment(plain, keys, { rng, digest: false, plaintextHash: false });
      const blob = await collect(lean.blob);
      const r = await lean.result;
      expect(toHex(blob) === toHex(full.blob), `size ${size}`).toBe(true);
      expect(toHex(r.incrementalMac as Uint8Array)).toBe(toHex(full.incrementalMac as Uint8Array));
      expect('digest' in r || 'plaintextHash' in r).toBe(false);
      expect(toHex(full.digest)).toBe(sha(full.blob));
      expect(toHex(full.plaintextHash)).toBe(sha(plain));
      const onlyHash = sealAttachment(plain, keys, { rng, digest: false });
      await collect(onlyHash.blob);
      const o = await onlyHash.result;
      expect('digest' in o).toBe(false);
      expect(toHex(o.plaintextHash)).toBe(sha(plain));
    }
  });

  it('concurrent large seals share the hash workers and each gets its own values', async () => {
    const plains = [1, 2, 3].map((k) => big(2 * 1024 * 1024 + k * 4099, k + 2));
    const results = await Promise.all(plains.map((p) => sealAttachmentToBytes(p)));
    for (const [i, r] of results.entries()) {
      const p = plains[i] as Uint8Array;
      expect(toHex(r.plaintextHash)).toBe(sha(p));
      expect(toHex(r.digest)).toBe(sha(r.blob));
      const theirs = await libsignalIncrementalMac(r.blob, r.keys.subarray(32), r.chunkSize);
      expect(toHex(r.incrementalMac as Uint8Array)).toBe(toHex(theirs));
    }
  });

  it('a blob that changes between the two passes is refused (plaintext hash, or the MAC again)', async () => {
    const plain = big(3 * 1024 * 1024, 3);
    const r = await sealAttachmentToBytes(plain);
    // Pass 1 reads the body once, the second pass reads it again: flip a byte on that second read.
    const changing = () => {
      let reads = 0;
      const src = bytesSource(r.blob);
      return {
        size: src.size,
        async *read(start: number, end: number) {
          let change = end === r.blob.length - 32 && ++reads === 1;
          for await (const c of src.read(start, end)) {
            if (!change) yield c;
            else {
              const b = c.slice();
              b[100_000] = (b[100_000] as number) ^ 1; // first chunk (1 MiB) of the second pass
              change = false;
              yield b;
            }
          }
        },
      };
    };
    const run = async (o: Parameters<typeof openAttachment>[2]) => {
      try {
        for await (const _ of openAttachment(changing(), r.keys, o)) {
        }
        return 'ok';
      } catch (e) {
        return (e as { code: string }).code;
      }
    };
    expect(await run({ size: r.size, plaintextHash: r.plaintextHash })).toBe(
      'COFFER_ERR_MEDIA_PLAINTEXT_HASH',
    );
    expect(await run({ size: r.size, digest: r.digest })).toBe('COFFER_ERR_MEDIA_MAC');
    expect(await run({ size: r.size, plaintextHash: r.plaintextHash, digest: r.digest })).toBe(
      'COFFER_ERR_MEDIA_PLAINTEXT_HASH',
    );
  });
});
