// Negative tests for the sealed-stream reader (spec 3.2; STYLE: strict at the edges): every
// single-byte corruption position class, truncation at every boundary, trailing bytes, wrong key,
// wrong token, empty input, damaged headers, bad padding and bad gzip under a valid MAC.
import { createCipheriv, createHmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bytesSource,
  closeGzipWorkers,
  encodeSealedHeader,
  logPaddedSize,
  openBackup,
  sealBackupToBytes,
} from '../src/index.ts';
import { encodeVarint32 } from '../src/sealed-header.ts';
import { collect } from '../src/sealed-writer.ts';
import { ACI_1, AEP_M, FS_TOKEN_AB, messageBackupKey, modernMetadata } from './_seal-helpers.ts';

afterAll(() => closeGzipWorkers());

const key = messageBackupKey(AEP_M, ACI_1, FS_TOKEN_AB);
const plain = new TextEncoder().encode('frames '.repeat(3000));

async function openErr(
  file: Uint8Array,
  k = key,
): Promise<{ code: string; message: string; details?: unknown }> {
  try {
    await collect(openBackup(bytesSource(file, 333), k));
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('expected openBackup to fail');
}

/** Hand-made file: encrypts `gzPadded` exactly as given (to test the layers behind a valid MAC). */
function sealRaw(gzPadded: Uint8Array, opts: { pkcs7?: boolean } = {}): Uint8Array {
  const iv = new Uint8Array(16).fill(3);
  const c = createCipheriv('aes-256-cbc', key.aesKey, iv);
  c.setAutoPadding(opts.pkcs7 ?? true);
  const ct = Buffer.concat([c.update(gzPadded), c.final()]);
  const mac = createHmac('sha256', key.hmacKey).update(iv).update(ct).digest();
  return new Uint8Array(Buffer.concat([iv, ct, mac]));
}
const padZeros = (gz: Uint8Array) => Buffer.concat([gz, Buffer.alloc(logPaddedSize(gz.length) - gz.length)]);

describe.each(['legacy', 'modern'] as const)('%s layout', (layout) => {
  let file: Uint8Array;
  let bodyStart: number;
  it('seals a reference file', async () => {
    const header = layout === 'modern' ? encodeSealedHeader(modernMetadata()) : undefined;
    file = await sealBackupToBytes([plain], key, header ? { header } : {});
    bodyStart = header?.length ?? 0;
    expect(await collect(openBackup(bytesSource(file), key))).toEqual(plain);
  });

  it('every single-byte change in IV, ciphertext and MAC is rejected as a key mismatch', async () => {
    const n = file.length;
    const positions = new Set<number>();
    for (let i = bodyStart; i < bodyStart + 16; i++) positions.add(i); // IV
    for (let i = bodyStart + 16; i < n - 32; i += 37) positions.add(i); // body (sampled)
    positions.add(bodyStart + 16);
    positions.add(n - 33); // last ciphertext byte (PKCS#7 padding block)
    for (let i = n - 32; i < n; i++) positions.add(i); // MAC
    for (const pos of positions) {
      for (const flip of [0x01, 0x80]) {
        const bad = file.slice();
        bad[pos] = (bad[pos] as number) ^ flip;
        const e = await openErr(bad);
        expect(e.code, `byte ${pos}`).toBe('COFFER_ERR_BACKUP_KEY_MISMATCH');
        expect(e.message).toBe('this recovery key does not open this backup (or the file is damaged)');
      }
    }
  });

  it('truncation at every boundary says the file is incomplete', async () => {
    const n = file.length;
    const cuts = [
      1,
      7,
      8,
      9,
      15,
      16,
      17,
      31,
      32,
      33,
      47,
      48,
      49,
      63,
      64,
      65,
      n - 33,
      n - 32,
      n - 31,
      n - 17,
      n - 16,
      n - 1,
    ];
    for (const c of new Set(cuts.map((x) => (x < bodyStart + 64 ? bodyStart + x : x)).concat(cuts))) {
      if (c <= 0 || c >= n) continue;
      const e = await openErr(file.slice(0, c));
      // Cutting a whole number of blocks keeps the shape valid: then the MAC (now reading ciphertext) fails.
      const shapeOk = c - bodyStart >= 64 && (c - bodyStart - 48) % 16 === 0;
      expect(e.code, `cut at ${c}`).toBe(
        shapeOk ? 'COFFER_ERR_BACKUP_KEY_MISMATCH' : 'COFFER_ERR_BACKUP_TRUNCATED',
      );
      if (!shapeOk) expect(e.message).toMatch(/incomplete/);
    }
  });

  it('trailing bytes are rejected (not whole blocks: incomplete; whole blocks: MAC)', async () => {
    for (const extra of [1, 15, 16, 32, 100]) {
      const bad = new Uint8Array(file.length + extra);
      bad.set(file);
      const e = await openErr(bad);
      expect(e.code).toBe(
        extra % 16 === 0 ? 'COFFER_ERR_BACKUP_KEY_MISMATCH' : 'COFFER_ERR_BACKUP_TRUNCATED',
      );
      // the message does not claim the file was cut short
      if (extra % 16 !== 0) expect(e.message).toMatch(/extra bytes/);
    }
  });

  it('a wrong key, a wrong token and the legacy key are rejected with the user-facing message', async () => {
    for (const k of [
      messageBackupKey('n'.repeat(64), ACI_1, FS_TOKEN_AB),
      messageBackupKey(AEP_M, ACI_1, new Uint8Array(32).fill(0xac)),
      messageBackupKey(AEP_M, ACI_1),
      messageBackupKey(AEP_M, '11111111-1111-1111-1111-111111111112', FS_TOKEN_AB),
    ]) {
      const e = await openErr(file, k);
      expect(e.code).toBe('COFFER_ERR_BACKUP_KEY_MISMATCH');
      expect(e.message).toBe('this recovery key does not open this backup (or the file is damaged)');
    }
  });
});

describe('edges', () => {
  it('empty input', async () => {
    expect((await openErr(new Uint8Array(0))).code).toBe('COFFER_ERR_BACKUP_EMPTY');
  });

  it('files shorter than IV + one block + MAC, at every length', async () => {
    for (let n = 1; n < 64; n++) {
      expect((await openErr(new Uint8Array(n).fill(9))).code).toBe('COFFER_ERR_BACKUP_TRUNCATED');
    }
  });

  it('the key function can throw, and the key shape is checked', async () => {
    const file = await sealBackupToBytes([plain], key);
    await expect(
      collect(
        openBackup(bytesSource(file), () => {
          throw new Error('no token');
        }),
      ),
    ).rejects.toThrow('no token');
    await expect(
      collect(openBackup(bytesSource(file), { hmacKey: new Uint8Array(31), aesKey: key.aesKey })),
    ).rejects.toThrow(RangeError);
  });

  it('damaged modern headers are reported as a damaged header (or as incomplete)', async () => {
    const header = encodeSealedHeader(modernMetadata());
    const file = await sealBackupToBytes([plain], key, { header });
    const cases: Array<[string, Uint8Array, string]> = [];
    // Cut inside the header.
    for (let c = 9; c < header.length; c += 11)
      cases.push([`cut ${c}`, file.slice(0, c), 'COFFER_ERR_BACKUP_TRUNCATED']);
    // Length prefix larger than the cap.
    const big = Buffer.concat([header.subarray(0, 8), Buffer.from([0xff, 0xff, 0x7f]), file.subarray(9)]);
    cases.push(['huge length', big, 'COFFER_ERR_BACKUP_CORRUPT']);
    // Broken MetadataPb contents: wrong ct length, 0 pairs, 3 pairs, wrong iv, bad wire type.
    const mk = (md: Buffer) =>
      Buffer.concat([
        header.subarray(0, 8),
        Buffer.from(encodeVarint32(md.length)),
        md,
        file.subarray(header.length),
      ]);
    const pair = (ctLen: number) =>
      Buffer.concat([
        Buffer.from([0x0a, ctLen]),
        Buffer.alloc(ctLen, 1),
        Buffer.from([0x12, 32]),
        Buffer.alloc(32, 2),
      ]);
    const wrap = (p: Buffer) => Buffer.concat([Buffer.from([0x0a, p.length]), p]);
    const iv = Buffer.concat([Buffer.from([0x12, 12]), Buffer.alloc(12, 3)]);
    cases.push(['ct 47', mk(Buffer.concat([wrap(pair(47)), iv])), 'COFFER_ERR_BACKUP_CORRUPT']);
    cases.push(['0 pairs', mk(iv), 'COFFER_ERR_BACKUP_CORRUPT']);
    cases.push([
      '3 pairs',
      mk(Buffer.concat([wrap(pair(48)), wrap(pair(48)), wrap(pair(48)), iv])),
      'COFFER_ERR_BACKUP_CORRUPT',
    ]);
    cases.push([
      'iv 11',
      mk(Buffer.concat([wrap(pair(48)), Buffer.from([0x12, 11]), Buffer.alloc(11)])),
      'COFFER_ERR_BACKUP_CORRUPT',
    ]);
    cases.push([
      'wire type',
      mk(Buffer.concat([Buffer.from([0x08, 0x01]), wrap(pair(48)), iv])),
      'COFFER_ERR_BACKUP_CORRUPT',
    ]);
    for (const [name, bad, code] of cases) {
      const e = await openErr(new Uint8Array(bad));
      expect(e.code, name).toBe(code);
    }
    // Two pairs and unknown fields are fine (libsignal: 1 or 2 pairs; unknown fields only logged).
    const ok = mk(Buffer.concat([wrap(pair(48)), wrap(pair(48)), iv, Buffer.from([0x18, 0x05])]));
    expect(await collect(openBackup(bytesSource(new Uint8Array(ok)), key))).toEqual(plain);
  });

  it('bad PKCS#7 padding under a valid MAC is reported as damaged (padding)', async () => {
    const gz = padZeros(gzipSync(plain));
    const noPad = Buffer.concat([gz, Buffer.alloc(16 - (gz.length % 16), 0)]); // zeros are not PKCS#7
    const e = await openErr(sealRaw(noPad, { pkcs7: false }));
    expect(e.code).toBe('COFFER_ERR_BACKUP_CORRUPT');
    expect(e.details).toMatchObject({ part: 'padding' });
  });

  it('gzip problems under a valid MAC: not gzip, bad CRC, cut member, junk after it, a second member', async () => {
    const gz = gzipSync(plain);
    const badCrc = Buffer.from(gz);
    badCrc[badCrc.length - 6] = (badCrc[badCrc.length - 6] as number) ^ 1;
    const badLen = Buffer.from(gz);
    badLen[badLen.length - 1] = (badLen[badLen.length - 1] as number) ^ 1;
    const cases: Array<[string, Buffer]> = [
      ['not gzip', padZeros(Buffer.from('plain text, not gzip at all'))],
      ['bad crc', padZeros(badCrc)],
      ['bad length', padZeros(badLen)],
      ['cut member', gz.subarray(0, gz.length - 20)],
      ['cut trailer', gz.subarray(0, gz.length - 3)],
      ['junk after', padZeros(Buffer.concat([gz, Buffer.from([0, 0, 7])]))],
      ['second member', padZeros(Buffer.concat([gz, gzipSync(Buffer.from('more'))]))],
      ['all zeros', Buffer.alloc(600)],
    ];
    for (const [name, data] of cases) {
      const e = await openErr(sealRaw(data));
      expect(e.code, name).toBe('COFFER_ERR_BACKUP_CORRUPT');
      expect((e.details as { part: string }).part, name).toBe('gzip');
    }
    // Control: the same construction with a good member opens (so the cases above fail for their reason).
    expect(await collect(openBackup(bytesSource(sealRaw(padZeros(gz))), key))).toEqual(plain);
    expect(await collect(openBackup(bytesSource(sealRaw(gz)), key))).toEqual(plain); // no padding at all is fine
  });

  it('a file that changes between the MAC pass and the decrypt pass fails at the end', async () => {
    const file = await sealBackupToBytes([plain], key);
    let reads = 0;
    const source = {
      size: file.length,
      async *read(start: number, end: number) {
        reads++;
        const b = file.slice(start, end);
        if (reads === 4 && b.length > 40) b[20] = (b[20] as number) ^ 1; // second pass over the body
        yield b;
      },
    };
    const e = await collect(openBackup(source, key)).catch((x: unknown) => x as { code: string });
    expect((e as { code: string }).code).toBe('COFFER_ERR_BACKUP_CORRUPT');
  });
});
