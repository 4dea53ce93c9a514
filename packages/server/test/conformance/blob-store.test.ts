/**
 * BlobStore conformance: the same cases, unchanged, against every driver (contract in
 * src/storage/blob-store.ts). Real services only: the S3 driver talks to Swift (or the store in
 * COFFER_TEST_S3_URL), each test in its own key prefix.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createS3Prefix } from '../../../../test-support/services.ts';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { parseS3BlobStoreUrl } from '../../src/storage/blob-store-factory.ts';
import { FileBlobStore } from '../../src/storage/file-blob-store.ts';
import { S3BlobStore } from '../../src/storage/s3-blob-store.ts';

const MiB = 1024 * 1024;
// 5 MiB parts: S3's minimum, so the suite also runs against AWS and other strict stores.
const PART = 5 * MiB;

interface Opened {
  store: BlobStore;
  cleanup(): Promise<void>;
}

const drivers: { name: string; open(): Promise<Opened> }[] = [
  {
    name: 'file',
    async open() {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'coffer-conf-blobs-'));
      const store = new FileBlobStore(dir);
      return { store, cleanup: () => fs.rm(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 's3',
    async open() {
      const p = await createS3Prefix('blob');
      // streamPutMax = one part: the large case below takes the multipart path, small ones the streamed PUT.
      const store = new S3BlobStore({
        ...parseS3BlobStoreUrl(p.url),
        partSize: PART,
        partConcurrency: 2,
        streamPutMax: PART,
      });
      return {
        store,
        cleanup: async () => {
          await store.close();
          await p.cleanup();
        },
      };
    },
  },
];

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

async function getBytes(
  store: BlobStore,
  key: string,
  range?: { start: number; end?: number },
): Promise<Buffer> {
  const { size, body } = await store.get(key, range);
  const bytes = await readAll(body);
  expect(bytes.length).toBe(size);
  return bytes;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? `no code: ${String(err)}`;
  }
}

async function* chunks(bytes: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  for (let o = 0; o < bytes.length; o += size) yield bytes.subarray(o, Math.min(o + size, bytes.length));
}

function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => {
    open = r;
  });
  return { wait, open };
}

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe.each(drivers)('BlobStore conformance: $name', (driver) => {
  let opened: Opened;
  let store: BlobStore;
  beforeEach(async () => {
    opened = await driver.open();
    store = opened.store;
  });
  afterEach(async () => {
    await opened.cleanup();
  });

  it('puts bytes and streams, gets them back, stats them, and overwrites', async () => {
    expect(await store.put('a/one', Buffer.from('hello world'))).toEqual({ size: 11 });
    expect(await store.put('a/two', chunks(Buffer.from('streamed body'), 3))).toEqual({ size: 13 });
    expect((await getBytes(store, 'a/one')).toString()).toBe('hello world');
    expect((await getBytes(store, 'a/two')).toString()).toBe('streamed body');
    const st = await store.stat('a/one');
    expect(st?.size).toBe(11);
    expect(st?.modifiedAt).toBeInstanceOf(Date);
    expect(Math.abs(st!.modifiedAt.getTime() - Date.now())).toBeLessThan(5 * 60_000);
    await store.put('a/one', Buffer.from('replaced'));
    expect((await getBytes(store, 'a/one')).toString()).toBe('replaced');
    expect((await store.stat('a/one'))?.size).toBe(8);
  });

  it('stores and returns an empty object', async () => {
    expect(await store.put('empty', new Uint8Array(0))).toEqual({ size: 0 });
    expect(await store.put('empty-stream', chunks(new Uint8Array(0), 1))).toEqual({ size: 0 });
    expect((await getBytes(store, 'empty')).length).toBe(0);
    expect((await store.stat('empty-stream'))?.size).toBe(0);
  });

  it('reads byte ranges (inclusive end, clamped to the last byte)', async () => {
    const data = Buffer.from('0123456789abcdef');
    await store.put('r', data);
    expect((await getBytes(store, 'r', { start: 0, end: 0 })).toString()).toBe('0');
    expect((await getBytes(store, 'r', { start: 2, end: 5 })).toString()).toBe('2345');
    expect((await getBytes(store, 'r', { start: 10 })).toString()).toBe('abcdef');
    expect((await getBytes(store, 'r', { start: 15, end: 15 })).toString()).toBe('f');
    expect((await getBytes(store, 'r', { start: 12, end: 1000 })).toString()).toBe('cdef');
    expect((await store.get('r', { start: 3, end: 4 })).size).toBe(2);
    expect(await codeOf(store.get('r', { start: 16 }))).toBe('COFFER_ERR_RANGE_NOT_SATISFIABLE');
    expect(await codeOf(store.get('r', { start: 100, end: 200 }))).toBe('COFFER_ERR_RANGE_NOT_SATISFIABLE');
    expect(await codeOf(store.get('r', { start: 5, end: 4 }))).toBe('COFFER_ERR_RANGE_NOT_SATISFIABLE');
    expect(await codeOf(store.get('r', { start: -1 }))).toBe('COFFER_ERR_RANGE_NOT_SATISFIABLE');
  });

  it('reports missing objects: get throws BLOB_NOT_FOUND, stat is undefined, delete is idempotent', async () => {
    expect(await codeOf(store.get('nope/missing'))).toBe('COFFER_ERR_BLOB_NOT_FOUND');
    expect(await codeOf(store.get('nope/missing', { start: 0, end: 10 }))).toBe('COFFER_ERR_BLOB_NOT_FOUND');
    expect(await store.stat('nope/missing')).toBeUndefined();
    await store.delete('nope/missing');
    await store.put('x', Buffer.from('x'));
    await store.delete('x');
    await store.delete('x');
    expect(await store.stat('x')).toBeUndefined();
    expect(await codeOf(store.get('x'))).toBe('COFFER_ERR_BLOB_NOT_FOUND');
    expect(await store.deletePrefix('nope/')).toBe(0);
  });

  it('lists keys in byte order, after a cursor, with a limit, and pages through everything once', async () => {
    const keys = ['m/b', 'm/a', 'm/c/1', 'm/c/2', 'm/ab', 'm-other', 'n/a', 'm/B', 'm/_', 'm/a.b'];
    for (const k of keys) await store.put(k, Buffer.from(k));
    const expected = keys.filter((k) => k.startsWith('m/')).sort();
    const all = await collect(store.list('m/'));
    expect(all.map((e) => e.key)).toEqual(expected);
    expect(all.find((e) => e.key === 'm/c/1')?.size).toBe(5);
    expect((await collect(store.list('m/a'))).map((e) => e.key)).toEqual(['m/a', 'm/a.b', 'm/ab']);
    expect((await collect(store.list('m/', { after: 'm/a' }))).map((e) => e.key)).toEqual(
      expected.filter((k) => k > 'm/a'),
    );
    expect((await collect(store.list('m/', { limit: 2 }))).map((e) => e.key)).toEqual(expected.slice(0, 2));
    // Cursor paging: limit 3 at a time, `after` = last key of the previous page.
    const paged: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await collect(store.list('m/', { limit: 3, ...(after ? { after } : {}) }));
      if (page.length === 0) break;
      paged.push(...page.map((e) => e.key));
      after = page.at(-1)!.key;
    }
    expect(paged).toEqual(expected);
    expect((await collect(store.list(''))).map((e) => e.key)).toEqual([...keys].sort());
  });

  it('deletes one key or a whole prefix, leaving others alone', async () => {
    for (const k of ['d/1', 'd/2', 'd/sub/3', 'dd/4', 'e/5']) await store.put(k, Buffer.from(k));
    await store.delete('d/1');
    expect(await store.stat('d/1')).toBeUndefined();
    expect(await store.deletePrefix('d/')).toBe(2);
    expect((await collect(store.list(''))).map((e) => e.key)).toEqual(['dd/4', 'e/5']);
  });

  it('keeps a partial write invisible, and a failed write leaves the previous object', async () => {
    await store.put('atomic/old', Buffer.from('previous version'));
    for (const key of ['atomic/new', 'atomic/old']) {
      const g = gate();
      const reached = gate();
      async function* slow(): AsyncIterable<Uint8Array> {
        yield Buffer.alloc(1000, 1);
        reached.open();
        await g.wait;
        throw new Error('client went away');
      }
      const put = store.put(key, slow());
      await reached.wait;
      // Mid-write: readers see the old object or nothing.
      if (key === 'atomic/new') {
        expect(await store.stat(key)).toBeUndefined();
        expect((await collect(store.list('atomic/'))).map((e) => e.key)).toEqual(['atomic/old']);
      } else {
        expect((await getBytes(store, key)).toString()).toBe('previous version');
      }
      g.open();
      await expect(put).rejects.toThrow();
    }
    expect(await store.stat('atomic/new')).toBeUndefined();
    expect((await getBytes(store, 'atomic/old')).toString()).toBe('previous version');
  });

  it('refuses a body whose length differs from the declared length, storing nothing', async () => {
    expect(await codeOf(store.put('len/a', Buffer.from('12345'), { length: 6 }))).toBe(
      'COFFER_ERR_SOURCE_LENGTH',
    );
    expect(await codeOf(store.put('len/b', chunks(Buffer.from('1234567'), 2), { length: 6 }))).toBe(
      'COFFER_ERR_SOURCE_LENGTH',
    );
    expect(await codeOf(store.put('len/c', chunks(Buffer.from('12345'), 2), { length: 6 }))).toBe(
      'COFFER_ERR_SOURCE_LENGTH',
    );
    expect(await store.stat('len/a')).toBeUndefined();
    expect(await store.stat('len/b')).toBeUndefined();
    expect(await store.stat('len/c')).toBeUndefined();
    expect(await store.put('len/d', chunks(Buffer.from('123456'), 4), { length: 6 })).toEqual({ size: 6 });
  });

  it('settles concurrent puts of one key on exactly one whole version', async () => {
    const versions = Array.from({ length: 6 }, (_, i) => Buffer.alloc(64 * 1024 + i * 997, 65 + i));
    await Promise.all(versions.map((v) => store.put('race/key', chunks(v, 8192))));
    const got = await getBytes(store, 'race/key');
    expect(versions.some((v) => v.equals(got))).toBe(true);
    expect((await store.stat('race/key'))?.size).toBe(got.length);
    expect((await collect(store.list('race/'))).map((e) => e.key)).toEqual(['race/key']);
  });

  it('streams a large (multipart) object both ways, with ranges across part boundaries', async () => {
    const size = 2 * PART + 123_457;
    const data = randomBytes(size);
    // Odd chunk sizes, so parts are assembled from pieces.
    expect(await store.put('big/object', chunks(data, 65_537), { length: size })).toEqual({ size });
    expect((await store.stat('big/object'))?.size).toBe(size);
    const { size: gotSize, body } = await store.get('big/object');
    expect(gotSize).toBe(size);
    const hash = createHash('sha256');
    let n = 0;
    for await (const c of body) {
      hash.update(c);
      n += c.length;
    }
    expect(n).toBe(size);
    expect(hash.digest('hex')).toBe(sha(data));
    const across = await getBytes(store, 'big/object', { start: PART - 10, end: PART + 9 });
    expect(across.equals(data.subarray(PART - 10, PART + 10))).toBe(true);
    const tail = await getBytes(store, 'big/object', { start: size - 5 });
    expect(tail.equals(data.subarray(size - 5))).toBe(true);
    // A large Uint8Array body takes the same path.
    await store.put('big/bytes', data);
    expect(sha(await getBytes(store, 'big/bytes'))).toBe(sha(data));
  });

  it('refuses path-trick and malformed keys before any I/O', async () => {
    const bad = [
      '',
      '../escape',
      'a/../../b',
      'a/./b',
      '/absolute',
      'trailing/',
      'a//b',
      '..',
      '.',
      'back\\slash',
      'sp ace',
      'per%2e%2e',
      'nul\0byte',
      'ümlaut',
      'q?x=1',
      'x'.repeat(2000),
    ];
    for (const key of bad) {
      expect(await codeOf(store.put(key, Buffer.from('x'))), JSON.stringify(key)).toBe(
        'COFFER_ERR_INVALID_KEY',
      );
      expect(await codeOf(store.get(key)), JSON.stringify(key)).toBe('COFFER_ERR_INVALID_KEY');
      expect(await codeOf(store.stat(key)), JSON.stringify(key)).toBe('COFFER_ERR_INVALID_KEY');
      expect(await codeOf(store.delete(key)), JSON.stringify(key)).toBe('COFFER_ERR_INVALID_KEY');
    }
    for (const prefix of ['../', '/x', 'a/../', 'a b/']) {
      expect(await codeOf(collect(store.list(prefix))), prefix).toBe('COFFER_ERR_INVALID_KEY');
      expect(await codeOf(store.deletePrefix(prefix)), prefix).toBe('COFFER_ERR_INVALID_KEY');
    }
    expect(await collect(store.list(''))).toEqual([]);
    // Dots and dashes inside a segment are ordinary characters.
    await store.put('ok/..hidden-but.fine_1', Buffer.from('y'));
    expect((await getBytes(store, 'ok/..hidden-but.fine_1')).toString()).toBe('y');
  });
});
