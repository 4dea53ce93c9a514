import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertyRuns } from '../../../test-support/profile.ts';
import {
  type BackupItem,
  FrameDecoder,
  readBackupAll,
  readBackupBatches,
  readBackupItems,
  readBackupSlices,
} from '../src/frame-reader.ts';
import { encodeDelimitedFrame, encodeDelimitedInfo, writeBackup } from '../src/frame-writer.ts';
import type { BackupInfo, Frame } from '../src/gen/Backup.ts';

const info: BackupInfo = {
  version: 1n,
  backupTimeMs: 1_700_000_000_000n,
  mediaRootBackupKey: new Uint8Array(32).fill(0xab),
  currentAppVersion: 'coffer-test',
  firstAppVersion: 'coffer-test',
  debugInfo: new Uint8Array(0),
};

function stickerFrame(i: number): Frame {
  return {
    item: {
      $case: 'stickerPack',
      stickerPack: { packId: new Uint8Array(16).fill(i), packKey: new Uint8Array(32).fill(i) },
    },
  };
}

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

const frames = Array.from({ length: 5 }, (_, i) => stickerFrame(i + 1));
const good = concat([encodeDelimitedInfo(info), ...frames.map(encodeDelimitedFrame)]);

async function codeOf(p: Promise<unknown>): Promise<{ code: string; details: Record<string, unknown> }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: string; details?: Record<string, unknown> };
    return { code: e.code ?? `not a CofferError: ${String(err)}`, details: e.details ?? {} };
  }
  return { code: 'no error', details: {} };
}

/** Splits bytes into chunks at the given cut points. */
function* split(bytes: Uint8Array, cuts: number[]): Generator<Uint8Array> {
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    yield bytes.subarray(prev, c);
    prev = c;
  }
  yield bytes.subarray(prev);
}

describe('frame reader', () => {
  it('reads info then frames with index and byte offset, however the input is chunked', async () => {
    for (const cuts of [[], [1], [3, 4, 5, 50], Array.from({ length: good.length }, (_, i) => i)]) {
      const items: BackupItem[] = [];
      for await (const it of readBackupItems(split(good, cuts))) items.push(it);
      expect(items.map((i) => i.kind)).toEqual(['info', 'frame', 'frame', 'frame', 'frame', 'frame']);
      const f2 = items[3];
      expect(f2?.kind === 'frame' && f2.index).toBe(2);
      // BackupInfo is 1 + its length; each sticker frame is 1 + 54 bytes
      const infoLen = encodeDelimitedInfo(info).length;
      expect(f2?.offset).toBe(infoLen + 2 * encodeDelimitedFrame(frames[0] as Frame).length);
      expect(items[0]?.kind === 'info' && items[0].info.currentAppVersion).toBe('coffer-test');
    }
  });

  it('slices decode each frame only when it is asked for, and agree with the batches', async () => {
    // A damaged 4th frame: a slice hands out the frames before it, then throws at it. A reader that
    // decoded the whole slice up front would throw before handing out anything.
    const bad = concat([
      encodeDelimitedInfo(info),
      ...frames.slice(0, 3).map(encodeDelimitedFrame),
      Uint8Array.of(2, 0x12, 0x7f),
      encodeDelimitedFrame(stickerFrame(9)),
    ]);
    const seen: string[] = [];
    let err: unknown;
    try {
      for await (const slice of readBackupSlices(bad)) for (const it of slice) seen.push(it.kind);
    } catch (e) {
      err = e;
    }
    expect(seen).toEqual(['info', 'frame', 'frame', 'frame']);
    expect((err as { code?: string }).code).toBe('COFFER_ERR_FRAME_DECODE');
    expect((err as { details?: unknown }).details).toMatchObject({ frameIndex: 3 });
    // Same items, indexes and offsets as readBackupBatches, however the input is chunked.
    const many = concat([
      encodeDelimitedInfo(info),
      ...Array.from({ length: 700 }, (_, i) => encodeDelimitedFrame(stickerFrame(i % 250))),
    ]);
    for (const cuts of [[], [7, 20_000], Array.from({ length: 40 }, (_, i) => i * 997)]) {
      const fromSlices: BackupItem[] = [];
      for await (const slice of readBackupSlices(split(many, cuts))) fromSlices.push(...slice);
      const fromBatches: BackupItem[] = [];
      for await (const b of readBackupBatches(split(many, cuts))) fromBatches.push(...b);
      expect(fromSlices).toHaveLength(701);
      expect(fromSlices.map((i) => [i.kind, i.offset, i.size])).toEqual(
        fromBatches.map((i) => [i.kind, i.offset, i.size]),
      );
    }
  });

  it('round-trips through writeBackup with small chunks', async () => {
    const parts: Uint8Array[] = [];
    for await (const c of writeBackup(info, frames, { framesPerChunk: 2 })) parts.push(c);
    expect(parts.length).toBeGreaterThan(1);
    expect(concat(parts)).toEqual(good);
    const back = await readBackupAll(parts);
    expect(back.frames).toHaveLength(5);
    expect(back.info.backupTimeMs).toBe(1_700_000_000_000n);
  });

  it('rejects an empty stream', async () => {
    expect((await codeOf(readBackupAll(new Uint8Array(0)))).code).toBe('COFFER_ERR_BACKUP_NO_INFO');
  });

  it('rejects a truncated varint with its frame index and offset', async () => {
    // a lone continuation byte where frame 5's prefix should be
    const bad = concat([good, Uint8Array.of(0x85)]);
    const e = await codeOf(readBackupAll(bad));
    expect(e.code).toBe('COFFER_ERR_FRAME_TRUNCATED');
    expect(e.details).toMatchObject({ frameIndex: 5, offset: good.length });
  });

  it('rejects a truncated frame', async () => {
    const e = await codeOf(readBackupAll(good.subarray(0, good.length - 3)));
    expect(e.code).toBe('COFFER_ERR_FRAME_TRUNCATED');
    expect(e.details).toMatchObject({ frameIndex: 4 });
  });

  it('rejects an oversize frame from its prefix alone, before the bytes arrive', () => {
    const dec = new FrameDecoder({ maxFrameSize: 1000 });
    const out: BackupItem[] = [];
    dec.push(encodeDelimitedInfo(info), out);
    // prefix says 1001 bytes; only the prefix is pushed
    expect(() => dec.push(Uint8Array.of(0xe9, 0x07), out)).toThrow(
      expect.objectContaining({
        code: 'COFFER_ERR_FRAME_TOO_LARGE',
        details: expect.objectContaining({ frameIndex: 0, size: 1001 }),
      }),
    );
    // exactly the maximum is fine (the BackupInfo is the largest message here)
    const ok = new FrameDecoder({ maxFrameSize: encodeDelimitedInfo(info).length - 1 });
    ok.push(good, []);
    ok.finish();
  });

  it('rejects a 4 GiB prefix and an over-long varint', async () => {
    expect((await codeOf(readBackupAll(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f)))).code).toBe(
      'COFFER_ERR_FRAME_TOO_LARGE',
    );
    const e = await codeOf(readBackupAll(new Uint8Array(11).fill(0x80)));
    expect(e.code).toBe('COFFER_ERR_FRAME_VARINT');
  });

  it('rejects garbage inside a frame with COFFER_ERR_FRAME_DECODE and its location', async () => {
    const infoBytes = encodeDelimitedInfo(info);
    // tag with field number 0, then a length-delimited field whose length runs past the frame
    for (const body of [Uint8Array.of(0x00, 0x01), Uint8Array.of(0x12, 0x7f, 0x00), Uint8Array.of(0x0f)]) {
      const bad = concat([
        infoBytes,
        encodeDelimitedFrame(stickerFrame(1)),
        Uint8Array.of(body.length),
        body,
      ]);
      const e = await codeOf(readBackupAll(bad));
      expect(e.code).toBe('COFFER_ERR_FRAME_DECODE');
      expect(e.details).toMatchObject({ frameIndex: 1, offset: infoBytes.length + 55 });
    }
  });

  it('rejects invalid UTF-8 in a string field', async () => {
    // BackupInfo field 4 (currentAppVersion) = 0xff
    const e = await codeOf(readBackupAll(Uint8Array.of(3, 0x22, 1, 0xff)));
    expect(e).toMatchObject({
      code: 'COFFER_ERR_FRAME_DECODE',
      details: { frameIndex: null, message: 'BackupInfo' },
    });
  });

  it('keeps unknown fields and writes them back', async () => {
    // Frame with an unknown field 99 (varint 7) next to a sticker pack
    const frame = encodeDelimitedFrame(stickerFrame(2)).subarray(1);
    const withUnknown = concat([frame, Uint8Array.of(0x98, 0x06, 0x07)]);
    const bytes = concat([encodeDelimitedInfo(info), Uint8Array.of(withUnknown.length), withUnknown]);
    const back = await readBackupAll(bytes);
    expect(back.frames[0]?._unknownFields).toEqual({ [(99 << 3) | 0]: [Uint8Array.of(0x07)] });
    const parts: Uint8Array[] = [];
    for await (const c of writeBackup(back.info, back.frames)) parts.push(c);
    expect(concat(parts)).toEqual(bytes);
  });

  it('property: random bytes, however chunked, give items or a CofferError, never anything else', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          // mostly-valid streams with a few bytes flipped reach deeper into the decoders
          fc
            .tuple(
              fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
            )
            .map(([flips]) => {
              const b = good.slice();
              for (const [i, v] of flips) b[i] = v;
              return b;
            }),
        ),
        fc.array(fc.nat(400), { maxLength: 5 }),
        async (bytes, cuts) => {
          try {
            await readBackupAll(
              split(
                bytes,
                cuts.filter((c) => c <= bytes.length),
              ),
            );
          } catch (err) {
            const code = (err as { code?: unknown }).code;
            expect(err).toBeInstanceOf(Error);
            expect(typeof code === 'string' && code.startsWith('COFFER_ERR_')).toBe(true);
          }
        },
      ),
      { numRuns: propertyRuns(3000) },
    );
  });
});
