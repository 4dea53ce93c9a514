import { pbkdf2 } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createTusStorage } from '../src/tus/tus-storage.ts';

describe('tus storage on files', () => {
  it('starts no background folder check that can throw after the folder is gone', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-tus-'));
    const parent = path.join(root, 'data');
    const tusDir = path.join(parent, 'tus');
    // Keep libuv's thread pool busy, so any fs call queued by the constructor runs only after the
    // folder has been replaced below (what a test that closes a server and removes its folder does).
    const busy = Array.from({ length: 8 }, () => promisify(pbkdf2)('x', 'y', 300_000, 32, 'sha256'));
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    const listeners = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    process.on('uncaughtException', onUncaught);
    try {
      const storage = createTusStorage({ blobUrl: 'file:unused', databaseUrl: 'sqlite:unused', tusDir });
      expect(fs.statSync(tusDir).isDirectory()).toBe(true); // created synchronously
      fs.rmSync(parent, { recursive: true });
      fs.writeFileSync(parent, 'not a folder'); // a later mkdir under it fails with ENOTDIR
      await Promise.all(busy);
      await new Promise((r) => setTimeout(r, 50));
      await storage.close();
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
      for (const l of listeners) process.on('uncaughtException', l);
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
