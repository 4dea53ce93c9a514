/**
 * Failure cases for the retry wrapper (src/storage/blob-store-retry.ts): a real S3 store behind a
 * TCP proxy that refuses connections or cuts a response midway, and a file store whose listing
 * breaks once. Each case also shows that the bare driver fails the same way, so the test can fail.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CofferError } from '@coffer/crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createS3Prefix, listenInRange, type S3Prefix } from '../../../../test-support/services.ts';
import type { BlobStore } from '../../src/storage/blob-store.ts';
import { parseS3BlobStoreUrl } from '../../src/storage/blob-store-factory.ts';
import { isTransientBlobError, withRetry } from '../../src/storage/blob-store-retry.ts';
import { FileBlobStore } from '../../src/storage/file-blob-store.ts';
import { S3BlobStore } from '../../src/storage/s3-blob-store.ts';

/** Forwards TCP to `target`; can refuse the next N connections or cut the next response after N bytes. */
class FlakyProxy {
  refuseNext = 0;
  cutNextAfter: number | undefined;
  connections = 0;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  port = 0;

  constructor(readonly target: { host: string; port: number }) {
    this.#server = net.createServer((client) => this.#handle(client));
  }

  async start(): Promise<void> {
    this.port = await listenInRange(this.#server);
  }

  #handle(client: net.Socket): void {
    this.connections += 1;
    this.#sockets.add(client);
    client.on('close', () => this.#sockets.delete(client));
    if (this.refuseNext > 0) {
      this.refuseNext -= 1;
      client.destroy();
      return;
    }
    const cutAfter = this.cutNextAfter;
    this.cutNextAfter = undefined;
    const upstream = net.connect(this.target.port, this.target.host);
    this.#sockets.add(upstream);
    upstream.on('close', () => this.#sockets.delete(upstream));
    let sent = 0;
    upstream.on('data', (d: Buffer) => {
      if (cutAfter !== undefined && sent + d.length > cutAfter) {
        client.write(d.subarray(0, Math.max(0, cutAfter - sent)));
        client.destroy();
        upstream.destroy();
        return;
      }
      sent += d.length;
      client.write(d);
    });
    client.on('data', (d: Buffer) => upstream.write(d));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  async stop(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of body) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

const noSleep = { sleep: async () => {}, baseDelayMs: 1 };

describe('retry wrapper against a flaky S3 connection', () => {
  let prefix: S3Prefix;
  let proxy: FlakyProxy;
  let direct: S3BlobStore;
  const stores: BlobStore[] = [];

  /** A fresh store (fresh connection pool) through the proxy; the SDK itself does not retry. */
  function viaProxy(): S3BlobStore {
    const opts = parseS3BlobStoreUrl(prefix.url);
    const s = new S3BlobStore({ ...opts, endpoint: `http://127.0.0.1:${proxy.port}`, maxAttempts: 1 });
    stores.push(s);
    return s;
  }

  beforeAll(async () => {
    prefix = await createS3Prefix('retry');
    const endpoint = new URL(prefix.target.endpoint ?? 'http://127.0.0.1:80');
    proxy = new FlakyProxy({ host: endpoint.hostname, port: Number(endpoint.port || 80) });
    await proxy.start();
    direct = new S3BlobStore(parseS3BlobStoreUrl(prefix.url));
  });
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
    proxy.refuseNext = 0;
    proxy.cutNextAfter = undefined;
  });
  afterAll(async () => {
    await direct?.close();
    await proxy?.stop();
    await prefix?.cleanup();
  });

  it('resumes a download whose connection drops midway, byte-identical', async () => {
    const data = randomBytes(3 * 1024 * 1024);
    await direct.put('big', data);

    proxy.cutNextAfter = 1024 * 1024;
    const bare = viaProxy();
    await expect(bare.get('big').then((r) => readAll(r.body))).rejects.toThrow();

    proxy.cutNextAfter = 1024 * 1024;
    const retries: string[] = [];
    const wrapped = withRetry(viaProxy(), { ...noSleep, onRetry: (i) => retries.push(i.operation) });
    const before = proxy.connections;
    const got = await wrapped.get('big');
    expect(got.size).toBe(data.length);
    expect((await readAll(got.body)).equals(data)).toBe(true);
    expect(retries).toEqual(['get']);
    expect(proxy.connections - before).toBeGreaterThanOrEqual(2);

    // A ranged read resumes inside its range.
    proxy.cutNextAfter = 300_000;
    const ranged = await withRetry(viaProxy(), noSleep).get('big', { start: 1000, end: 2_000_000 });
    expect((await readAll(ranged.body)).equals(data.subarray(1000, 2_000_001))).toBe(true);
  });

  it('retries a put of bytes when connections are refused, and reports the failure as transient', async () => {
    proxy.refuseNext = 1;
    const err = await viaProxy()
      .put('p1', Buffer.from('one'))
      .catch((e: unknown) => e);
    expect((err as CofferError).code).toBe('COFFER_ERR_BLOB_STORE_UNAVAILABLE');
    expect(isTransientBlobError(err)).toBe(true);
    // The message says what failed, not where: no endpoint, bucket, key or credential.
    expect((err as Error).message).not.toMatch(/127\.0\.0\.1|tester|testing|p1|coffer-/);

    proxy.refuseNext = 2;
    const wrapped = withRetry(viaProxy(), noSleep);
    expect(await wrapped.put('p2', Buffer.from('two'))).toEqual({ size: 3 });
    expect((await readAll((await direct.get('p2')).body)).toString()).toBe('two');
  });

  it('gives up after the configured attempts and never retries definite answers', async () => {
    proxy.refuseNext = 10;
    const retries: string[] = [];
    const wrapped = withRetry(viaProxy(), {
      ...noSleep,
      attempts: 3,
      onRetry: (i) => retries.push(i.operation),
    });
    await expect(wrapped.stat('x')).rejects.toMatchObject({ code: 'COFFER_ERR_BLOB_STORE_UNAVAILABLE' });
    expect(retries).toEqual(['stat', 'stat']);
    proxy.refuseNext = 0;
    retries.length = 0;
    await expect(wrapped.get('missing')).rejects.toMatchObject({ code: 'COFFER_ERR_BLOB_NOT_FOUND' });
    await expect(wrapped.get('../x')).rejects.toMatchObject({ code: 'COFFER_ERR_INVALID_KEY' });
    expect(retries).toEqual([]);
  });
});

describe('retry wrapper: listing', () => {
  it('resumes a listing that breaks after the last key it yielded', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'coffer-retry-'));
    try {
      const inner = new FileBlobStore(dir);
      for (let i = 0; i < 7; i++) await inner.put(`l/${i}`, Buffer.from([i]));
      let broken = false;
      // The fault is injected around the driver; the wrapper under test is the real one.
      const flaky: BlobStore = {
        ...inner,
        put: inner.put.bind(inner),
        get: inner.get.bind(inner),
        stat: inner.stat.bind(inner),
        delete: inner.delete.bind(inner),
        deletePrefix: inner.deletePrefix.bind(inner),
        close: inner.close.bind(inner),
        async *list(prefix, opts) {
          let n = 0;
          for await (const e of inner.list(prefix, opts)) {
            if (!broken && n === 3) {
              broken = true;
              throw new CofferError('COFFER_ERR_BLOB_STORE_UNAVAILABLE', 'listing broke', {
                details: { retryable: true },
              });
            }
            n += 1;
            yield e;
          }
        },
      };
      const keys: string[] = [];
      for await (const e of withRetry(flaky, noSleep).list('l/', { limit: 6 })) keys.push(e.key);
      expect(broken).toBe(true);
      expect(keys).toEqual(['l/0', 'l/1', 'l/2', 'l/3', 'l/4', 'l/5']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
