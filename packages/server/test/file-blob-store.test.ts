import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileBlobStore } from '../src/storage/file-blob-store.ts';

async function readAll(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

describe('FileBlobStore', () => {
  let dir: string;
  let store: FileBlobStore;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'coffer-blobs-'));
    store = new FileBlobStore(dir);
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('puts, gets (with ranges), stats, lists and deletes', async () => {
    await store.put('a/b/one', Buffer.from('hello world'));
    async function* gen() {
      yield Buffer.from('abc');
      yield Buffer.from('def');
    }
    expect(await store.put('a/two', gen())).toEqual({ size: 6 });
    expect((await readAll((await store.get('a/b/one')).body)).toString()).toBe('hello world');
    const r = await store.get('a/b/one', { start: 6, end: 100 });
    expect(r.size).toBe(5);
    expect((await readAll(r.body)).toString()).toBe('world');
    expect((await store.stat('a/two'))?.size).toBe(6);
    expect(await store.stat('a/none')).toBeUndefined();
    const listed: string[] = [];
    for await (const e of store.list('a/')) listed.push(e.key);
    expect(listed).toEqual(['a/b/one', 'a/two']);
    const after: string[] = [];
    for await (const e of store.list('a/', { after: 'a/b/one' })) after.push(e.key);
    expect(after).toEqual(['a/two']);
    expect(await store.deletePrefix('a/')).toBe(2);
    await store.delete('a/two');
    await expect(store.get('a/two')).rejects.toMatchObject({ code: 'COFFER_ERR_BLOB_NOT_FOUND' });
  });

  it('refuses unsafe keys and bad ranges', async () => {
    for (const k of ['../x', '/etc/passwd', 'a/../../b', 'a//b', 'a/./b', 'a\\b', '', 'a/', 'ü']) {
      await expect(store.put(k, new Uint8Array(1))).rejects.toMatchObject({ code: 'COFFER_ERR_INVALID_KEY' });
    }
    await store.put('k', Buffer.from('xyz'));
    await expect(store.get('k', { start: 3 })).rejects.toMatchObject({
      code: 'COFFER_ERR_RANGE_NOT_SATISFIABLE',
    });
  });

  it('leaves no object when the stream fails or the length is wrong', async () => {
    await store.put('k', Buffer.from('old'));
    async function* failing() {
      yield Buffer.from('new partial');
      throw new Error('connection dropped');
    }
    await expect(store.put('k', failing())).rejects.toThrow('connection dropped');
    expect((await readAll((await store.get('k')).body)).toString()).toBe('old');
    await expect(store.put('k', Buffer.from('12345'), { length: 4 })).rejects.toMatchObject({
      code: 'COFFER_ERR_SOURCE_LENGTH',
    });
    expect((await readAll((await store.get('k')).body)).toString()).toBe('old');
    expect(await fs.readdir(path.join(dir, '.tmp'))).toEqual([]);
  });
});
