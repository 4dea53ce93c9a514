import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bytesSource,
  closeGzipWorkers,
  detectBackupLayout,
  encodeSealedHeader,
  logPaddedSize,
  openBackup,
  readSealedHeader,
  type SealedHeader,
  sealBackup,
  sealBackupToBytes,
} from '../src/index.ts';
import { collect } from '../src/sealed-writer.ts';
import {
  ACI_1,
  AEP_M,
  chunked,
  FS_TOKEN_AB,
  messageBackupKey,
  modernMetadata,
  upstreamEncrypted,
  upstreamExpectedPlaintext,
} from './_seal-helpers.ts';

const legacyKey = messageBackupKey(AEP_M, ACI_1);
const fsKey = messageBackupKey(AEP_M, ACI_1, FS_TOKEN_AB);
const PLATFORMS = ['node', 'web'] as const;

afterAll(() => closeGzipWorkers());

const fixedRng = (byte: number) => (n: number) => new Uint8Array(n).fill(byte);

function syntheticPlaintext(n: number, seed = 1): Uint8Array {
  // Compressible but not trivial: words from a small vocabulary with a varying counter.
  const words = ['hello', 'are', 'you', 'coming', 'tonight', 'sure', 'see', 'you', 'at', 'eight', 'ok', '👍'];
  const out = new Uint8Array(n);
  const te = new TextEncoder();
  let o = 0;
  let x = seed;
  while (o < n) {
    x = (x * 1103515245 + 12345) >>> 0;
    const w = te.encode(`${words[x % words.length]} ${x % 1000} `);
    out.set(w.subarray(0, Math.min(w.length, n - o)), o);
    o += w.length;
  }
  return out;
}

describe('upstream encrypted vectors (spec 9)', () => {
  for (const platform of PLATFORMS) {
    it(`opens new-account (modern, FS token ab*32) and yields the expected plaintext [${platform}]`, async () => {
      const file = upstreamEncrypted('new-account');
      expect(detectBackupLayout(file.subarray(0, 8))).toBe('modern');
      const seen: SealedHeader[] = [];
      const plain = await collect(
        openBackup(
          bytesSource(file, 100),
          (h) => {
            seen.push(h);
            return h.layout === 'modern' ? fsKey : legacyKey;
          },
          { platform },
        ),
      );
      expect(Buffer.from(plain).equals(Buffer.from(upstreamExpectedPlaintext('new-account')))).toBe(true);
      expect(seen).toHaveLength(1);
      const h = seen[0] as SealedHeader;
      expect(h.pairs).toHaveLength(1);
      expect(Buffer.from(h.pairs?.[0]?.ct ?? []).toString('hex')).toBe('cc'.repeat(48));
      expect(Buffer.from(h.pairs?.[0]?.pwSalt ?? []).toString('hex')).toBe('50'.repeat(32));
      expect(Buffer.from(h.metadataIv ?? []).toString()).toBe('iv_12_bytes_');
    });

    it(`opens legacy-account (legacy, no token) and yields the expected plaintext [${platform}]`, async () => {
      const file = upstreamEncrypted('legacy-account');
      expect(detectBackupLayout(file.subarray(0, 8))).toBe('legacy');
      const plain = await collect(openBackup(bytesSource(file, 7), legacyKey, { platform }));
      expect(Buffer.from(plain).equals(Buffer.from(upstreamExpectedPlaintext('legacy-account')))).toBe(true);
    });
  }

  it('the modern vector does not open with the legacy key, nor the legacy one with the FS key', async () => {
    await expect(
      collect(openBackup(bytesSource(upstreamEncrypted('new-account')), legacyKey)),
    ).rejects.toMatchObject({
      code: 'COFFER_ERR_BACKUP_KEY_MISMATCH',
      message: 'this recovery key does not open this backup (or the file is damaged)',
    });
    await expect(
      collect(openBackup(bytesSource(upstreamEncrypted('legacy-account')), fsKey)),
    ).rejects.toMatchObject({
      code: 'COFFER_ERR_BACKUP_KEY_MISMATCH',
    });
  });

  it('Coffer re-seals the upstream plaintext to the same layout and size as upstream (same IV, level 6)', async () => {
    const plain = upstreamExpectedPlaintext('legacy-account');
    const sealed = await sealBackupToBytes([plain], legacyKey, { rng: fixedRng(0x49), level: 6 });
    const upstream = upstreamEncrypted('legacy-account');
    // Same IV (0x49 x 16) and the same padded size: gzip output differs only in header bytes.
    expect(Buffer.from(sealed.subarray(0, 16)).equals(Buffer.from(upstream.subarray(0, 16)))).toBe(true);
    expect(sealed.length).toBe(upstream.length);
  });
});

describe('seal -> open round trips', () => {
  const sizes = [
    0,
    1,
    15,
    16,
    17,
    541,
    4096,
    100_000,
    (1 << 20) - 1,
    1 << 20,
    (1 << 20) + 1,
    3 * (1 << 20) + 12345,
  ];
  for (const platform of PLATFORMS) {
    for (const size of sizes) {
      it(`${size} bytes [${platform}]`, async () => {
        const plain = syntheticPlaintext(size, size + 7);
        const sealed = await sealBackupToBytes(chunked(plain, 65_537), legacyKey, { platform });
        // Layout: IV(16) || CT || MAC(32), CT = padded gzip + PKCS#7.
        expect((sealed.length - 48) % 16).toBe(0);
        const opened = await collect(openBackup(bytesSource(sealed, 10_000), legacyKey, { platform }));
        expect(Buffer.from(opened).equals(Buffer.from(plain))).toBe(true);
      });
    }
  }

  it('files sealed on one platform open on the other, and the padded size follows spec 3.3', async () => {
    const plain = syntheticPlaintext(2_500_000, 3);
    for (const [a, b] of [
      ['node', 'web'],
      ['web', 'node'],
    ] as const) {
      const sealed = await sealBackupToBytes([plain], fsKey, { platform: a });
      const opened = await collect(openBackup(bytesSource(sealed), fsKey, { platform: b }));
      expect(Buffer.from(opened).equals(Buffer.from(plain))).toBe(true);
    }
  });

  it('the crypto layers of both platforms give identical bytes for identical gzip input', async () => {
    const { getPlatform } = await import('../src/platform.ts');
    const [n, w] = await Promise.all([getPlatform('node'), getPlatform('web')]);
    const iv = new Uint8Array(16).fill(7);
    const data = syntheticPlaintext(300_001, 9);
    const outs: Buffer[] = [];
    for (const p of [n, w]) {
      const c = p.aesCbcEncrypt(legacyKey.aesKey, iv);
      const parts: Uint8Array[] = [];
      for await (const chunk of chunked(data, 777)) parts.push(await c.update(chunk));
      parts.push(await c.final());
      const ct = Buffer.concat(parts);
      const m = p.hmacSha256(legacyKey.hmacKey);
      m.update(ct);
      outs.push(Buffer.concat([ct, m.digest()]));
      const d = p.aesCbcDecrypt(legacyKey.aesKey, iv);
      const back: Uint8Array[] = [];
      for await (const chunk of chunked(ct, 1000)) back.push(await d.update(chunk));
      back.push(await d.final());
      expect(Buffer.concat(back).equals(Buffer.from(data))).toBe(true);
    }
    expect((outs[0] as Buffer).equals(outs[1] as Buffer)).toBe(true);
  });

  it('pads the compressed stream to logPaddedSize before encryption', async () => {
    const plain = syntheticPlaintext(200_000, 5);
    const sealed = await sealBackupToBytes([plain], legacyKey);
    const { createDecipheriv } = await import('node:crypto');
    const d = createDecipheriv('aes-256-cbc', legacyKey.aesKey, sealed.subarray(0, 16));
    const gzPadded = Buffer.concat([d.update(sealed.subarray(16, sealed.length - 32)), d.final()]);
    expect(gzPadded.length).toBe(logPaddedSize(gzPadded.length)); // already a bucket size
    expect(gunzipSync(gzPadded).equals(Buffer.from(plain))).toBe(true);
  });

  it('writes the modern header verbatim before the IV and the key function sees it', async () => {
    const metadata = modernMetadata();
    const header = encodeSealedHeader(metadata);
    const sealed = await sealBackupToBytes([syntheticPlaintext(1000)], fsKey, { header });
    expect(Buffer.from(sealed.subarray(0, header.length)).equals(Buffer.from(header))).toBe(true);
    const h = await readSealedHeader(bytesSource(sealed));
    expect(h.layout).toBe('modern');
    expect(h.bodyOffset).toBe(header.length);
    expect(Buffer.from(h.metadata ?? []).equals(Buffer.from(metadata))).toBe(true);
    const opened = await collect(
      openBackup(bytesSource(sealed), async (hh) => (hh.layout === 'modern' ? fsKey : legacyKey)),
    );
    expect(opened.length).toBe(1000);
  });

  it('yields nothing before the whole-file MAC has been checked', async () => {
    const sealed = await sealBackupToBytes([syntheticPlaintext(50_000)], legacyKey);
    const bad = sealed.slice();
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1; // only the MAC byte at the very end
    const received: Uint8Array[] = [];
    await expect(
      (async () => {
        for await (const p of openBackup(bytesSource(bad, 1000), legacyKey)) received.push(p);
      })(),
    ).rejects.toMatchObject({ code: 'COFFER_ERR_BACKUP_KEY_MISMATCH' });
    expect(received).toHaveLength(0);
  });

  it('sealBackup streams (the first bytes arrive before the input ends)', async () => {
    let produced = 0;
    async function* slow() {
      for (let i = 0; i < 6; i++) {
        produced++;
        yield syntheticPlaintext(1 << 20, i);
      }
    }
    const it = sealBackup(slow(), legacyKey)[Symbol.asyncIterator]();
    await it.next();
    expect(produced).toBeLessThan(6);
    await it.return?.(undefined);
  });
});
