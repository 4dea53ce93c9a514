// Property: whatever bytes the reader is given (random files, random headers, mutated real files),
// it never throws anything but a CofferError, and it never yields plaintext for a file whose MAC
// does not verify.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { propertyRuns } from '../../../test-support/profile.ts';
import {
  bytesSource,
  closeGzipWorkers,
  encodeSealedHeader,
  openBackup,
  SEALED_MAGIC,
  sealBackupToBytes,
} from '../src/index.ts';
import { ACI_1, AEP_M, FS_TOKEN_AB, messageBackupKey, modernMetadata } from './_seal-helpers.ts';

afterAll(() => closeGzipWorkers());
const key = messageBackupKey(AEP_M, ACI_1, FS_TOKEN_AB);

async function outcome(file: Uint8Array, platform: 'node' | 'web'): Promise<'ok' | string> {
  let yielded = 0;
  try {
    for await (const p of openBackup(bytesSource(file, 97), key, { platform })) yielded += p.length;
    return 'ok';
  } catch (e) {
    if ((e as { name?: string }).name !== 'CofferError') throw e;
    const code = (e as { code: string }).code;
    // Only a failure after the MAC verified (damaged contents) may come after plaintext.
    if (code !== 'COFFER_ERR_BACKUP_CORRUPT') expect(yielded).toBe(0);
    return code;
  }
}

describe.each(['node', 'web'] as const)('sealed reader on arbitrary input [%s]', (platform) => {
  it('random bytes, with and without the modern magic', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 400 }), fc.boolean(), async (bytes, magic) => {
        const file = magic ? new Uint8Array([...SEALED_MAGIC, ...bytes]) : bytes;
        const r = await outcome(file, platform);
        expect(r).not.toBe('ok');
      }),
      { numRuns: propertyRuns(300) },
    );
  });

  it('random mutations of a real sealed file never open and only fail with CofferErrors', async () => {
    const header = encodeSealedHeader(modernMetadata());
    const file = await sealBackupToBytes([new TextEncoder().encode('x'.repeat(5000))], key, { header });
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ pos: fc.nat({ max: file.length - 1 }), xor: fc.integer({ min: 1, max: 255 }) }),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        fc.option(fc.nat({ max: file.length }), { nil: undefined }),
        async (edits, cut) => {
          const bad = file.slice(0, cut ?? file.length);
          for (const { pos, xor } of edits) if (pos < bad.length) bad[pos] = (bad[pos] as number) ^ xor;
          const unchanged = bad.length === file.length && bad.every((b, i) => b === file[i]);
          const r = await outcome(bad, platform);
          if (!unchanged && r === 'ok') {
            // Only the header is outside the MAC (spec 3.1): edits there that still parse (inside the
            // pair ct / salt / iv values) open; any edit of IV, ciphertext or MAC must not.
            expect(edits.every((e) => e.pos < header.length)).toBe(true);
          }
        },
      ),
      { numRuns: propertyRuns(200) },
    );
  });
});
