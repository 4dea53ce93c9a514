// @coffer/client/node: the Node-only parts (temp-file spooling, the profile-folder key store, local
// backup files). Browser bundles import only '@coffer/client'.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { sealedFileSource } from '@coffer/crypto';
import type { ClientPlatform, Spooled } from './platform.ts';

export { FileKeyStore } from './file-key-store.ts';

/** Spools to a temp file (flat memory for any backup size); tus reads it back with fs streams. */
export function nodePlatform(opts: { tmpDir?: string } = {}): ClientPlatform {
  return {
    async spool(stream): Promise<Spooled> {
      const dir = await mkdtemp(join(opts.tmpDir ?? tmpdir(), 'coffer-spool-'));
      const path = join(dir, 'backup.bin');
      try {
        await pipeline(
          Readable.from(stream, { objectMode: false }),
          createWriteStream(path, { mode: 0o600 }),
        );
      } catch (err) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
      const { size } = await stat(path);
      return {
        size,
        // Read by openBackup only.
        source: await sealedFileSource(path),
        tusInput: () => createReadStream(path),
        dispose: () => rm(dir, { recursive: true, force: true }),
      };
    },
    tusInputFromBytes: (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  };
}

/**
 * Writes a stream to `path` atomically: a temp file beside it, fsync, then rename. A failure leaves
 * no file behind. Returns the size.
 */
export async function writeFileAtomically(path: string, stream: AsyncIterable<Uint8Array>): Promise<number> {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.coffer-tmp`);
  try {
    const out = createWriteStream(tmp, { mode: 0o600, flush: true });
    await pipeline(Readable.from(stream, { objectMode: false }), out);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return (await stat(path)).size;
}
