import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { CofferError } from '@coffer/crypto';
import { isS3StorageFull } from '../http/outage-errors.ts';
import { assertBlobKey, assertBlobPrefix, type BlobStore } from './blob-store.ts';
import { parseS3BlobStoreUrl } from './blob-store-factory.ts';
import { createS3Client, type S3ConnectionOptions } from './s3-client.ts';

export interface S3BlobStoreOptions extends S3ConnectionOptions {
  /** Key prefix inside the bucket (e.g. `coffer/`), so several deployments or tests share a bucket. */
  prefix?: string | undefined;
  /** Use this client instead of making one (it is then not destroyed by `close()`). */
  client?: S3Client | undefined;
  /** Multipart part size in bytes (default 8 MiB; S3's minimum is 5 MiB except for the last part). */
  partSize?: number | undefined;
  /** Parts uploaded at once (default 4): memory use is about partSize * (partConcurrency + 1). */
  partConcurrency?: number | undefined;
  /**
   * Part buffers (being filled or on the wire) held by all multipart uploads of this store together
   * (default 4 * partConcurrency): without it, 50 large commits at once held 50 * 5 parts (2 GB).
   */
  maxPartsInMemory?: number | undefined;
  /** Objects up to this size go up in one PUT (default partSize). */
  multipartThreshold?: number | undefined;
  /**
   * A stream whose length is announced (`opts.length`) and at most this size is sent as ONE
   * streamed PUT, never buffered (default 64 MiB): memory stays flat however many run at once.
   */
  streamPutMax?: number | undefined;
  /**
   * `batch`: DeleteObjects (1000 keys per request, with Content-MD5); `single`: one DELETE per key,
   * for stores without DeleteObjects. Default `batch`, falling back to `single` on NotImplemented.
   */
  bulkDelete?: 'batch' | 'single' | undefined;
}

const MiB = 1024 * 1024;
const MAX_PARTS = 10_000;

type SdkError = { name?: string; code?: string; $metadata?: { httpStatusCode?: number }; message?: string };

function statusOf(err: unknown): number | undefined {
  return (err as SdkError)?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const name = (err as SdkError)?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || statusOf(err) === 404;
}

/**
 * Converts an SDK or network failure into COFFER_ERR_BLOB_STORE_UNAVAILABLE. `retryable` tells the
 * retry wrapper (blob-store-retry.ts) whether trying again can help: network errors, 5xx, 429.
 * The message names the operation and status only - never the key (it may carry a backup id) nor
 * anything from the connection settings.
 */
function storeError(operation: string, err: unknown): CofferError {
  if (err instanceof CofferError) return err;
  const status = statusOf(err);
  const name = (err as SdkError)?.name ?? (err as SdkError)?.code ?? 'Error';
  // Out of space or over the bucket's quota: retrying cannot help until an operator acts.
  if (isS3StorageFull(err)) {
    return new CofferError(
      'COFFER_ERR_STORAGE_FULL',
      `The S3 blob store is out of space during ${operation} (${name}${status ? ` ${status}` : ''}).`,
      { cause: err, details: { operation, status, name, retryable: false } },
    );
  }
  const retryable = status === undefined || status >= 500 || status === 429 || name === 'SlowDown';
  return new CofferError(
    'COFFER_ERR_BLOB_STORE_UNAVAILABLE',
    `The S3 blob store failed during ${operation} (${name}${status ? ` ${status}` : ''}); try again later.`,
    { cause: err, details: { operation, status, name, retryable } },
  );
}

function notFound(): CofferError {
  return new CofferError('COFFER_ERR_BLOB_NOT_FOUND', 'the stored object does not exist');
}

function lengthMismatch(expected: number, actual: number): CofferError {
  return new CofferError('COFFER_ERR_SOURCE_LENGTH', 'the object length differs from the declared length', {
    details: { expected, actual },
  });
}

function badRange(details: Record<string, unknown>): CofferError {
  return new CofferError('COFFER_ERR_RANGE_NOT_SATISFIABLE', 'the byte range is outside the object', {
    details,
  });
}

function assertRange(range: { start: number; end?: number } | undefined): void {
  if (!range) return;
  const { start, end } = range;
  if (
    !Number.isSafeInteger(start) ||
    start < 0 ||
    (end !== undefined && (!Number.isSafeInteger(end) || end < start))
  ) {
    throw badRange({ start, end });
  }
}

/**
 * BlobStore on any S3-compatible object store (AWS S3, Ceph, MinIO, OpenStack Swift s3api).
 *
 * Atomic visibility comes from S3 itself: a PUT or a completed multipart upload appears whole or
 * not at all, and an aborted multipart upload never appears. "Create if absent" is not offered
 * (Swift answers 501 to `If-None-Match: *`): callers decide in the metadata database.
 */
export class S3BlobStore implements BlobStore {
  readonly bucket: string;
  readonly prefix: string;
  readonly #client: S3Client;
  readonly #ownsClient: boolean;
  readonly #partSize: number;
  readonly #partConcurrency: number;
  readonly #threshold: number;
  readonly #streamPutMax: number;
  readonly #partBudget: Semaphore;
  /** Idle part buffers of #partSize, reused so a long run of commits does not churn 8 MiB arrays. */
  readonly #idleParts: Uint8Array[] = [];
  readonly #pooled = new WeakMap<ArrayBufferLike, Uint8Array>();
  #bulkDelete: 'batch' | 'single';

  constructor(opts: S3BlobStoreOptions) {
    if (!opts.bucket)
      throw new CofferError(
        'COFFER_ERR_CONFIG',
        'the S3 blob store URL needs a bucket name: s3://BUCKET?endpoint=...',
      );
    this.bucket = opts.bucket;
    this.prefix = opts.prefix ?? '';
    if (this.prefix !== '') {
      if (!this.prefix.endsWith('/')) this.prefix += '/';
      assertBlobPrefix(this.prefix);
    }
    this.#client = opts.client ?? createS3Client(opts);
    this.#ownsClient = !opts.client;
    this.#partSize = Math.max(opts.partSize ?? 8 * MiB, 1);
    this.#partConcurrency = Math.max(opts.partConcurrency ?? 4, 1);
    this.#threshold = opts.multipartThreshold ?? this.#partSize;
    this.#streamPutMax = opts.streamPutMax ?? 64 * MiB;
    this.#partBudget = new Semaphore(Math.max(opts.maxPartsInMemory ?? 4 * this.#partConcurrency, 1));
    this.#bulkDelete = opts.bulkDelete ?? 'batch';
  }

  /** The SDK client (shared with @tus/s3-store so tus uploads use the same settings). */
  get client(): S3Client {
    return this.#client;
  }

  #full(key: string): string {
    return this.prefix + key;
  }

  async put(
    key: string,
    body: AsyncIterable<Uint8Array> | Uint8Array,
    opts?: { length?: number },
  ): Promise<{ size: number }> {
    assertBlobKey(key);
    const expected = opts?.length;
    if (expected !== undefined && (!Number.isSafeInteger(expected) || expected < 0)) {
      throw new RangeError('length must be a non-negative integer');
    }
    if (body instanceof Uint8Array) {
      if (expected !== undefined && expected !== body.length) throw lengthMismatch(expected, body.length);
      if (body.length <= this.#threshold) {
        await this.#putSingle(key, body);
        return { size: body.length };
      }
      return this.#putMultipart(key, sliceParts(body, this.#partSizeFor(body.length)), undefined);
    }
    if (expected !== undefined && expected <= this.#streamPutMax)
      return this.#putStreamed(key, body, expected);
    // A known large length: straight to parts, each buffered only under the store's part budget.
    if (expected !== undefined && expected > this.#threshold)
      return this.#putMultipart(key, this.#pooledParts(body, this.#partSizeFor(expected)), expected);
    // Stream: buffer up to the threshold; a small body goes up in one PUT, a large one in parts.
    const partSize = this.#partSizeFor(expected);
    const iterator = rechunk(body, partSize)[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (first.done) {
      if (expected !== undefined && expected !== 0) throw lengthMismatch(expected, 0);
      await this.#putSingle(key, new Uint8Array(0));
      return { size: 0 };
    }
    if (first.value.length < partSize || first.value.length <= this.#threshold) {
      const second = await iterator.next();
      if (second.done) {
        if (expected !== undefined && expected !== first.value.length)
          throw lengthMismatch(expected, first.value.length);
        await this.#putSingle(key, first.value);
        return { size: first.value.length };
      }
      return this.#putMultipart(key, prepend([first.value, second.value], iterator), expected);
    }
    return this.#putMultipart(key, prepend([first.value], iterator), expected);
  }

  /**
   * `rechunk` into reused buffers: a part is taken when the multipart loop pulls it (under a budget
   * permit) and given back by #recycle once its request has settled, so the buffers in use never
   * exceed the budget and the same few arrays serve every commit.
   */
  async *#pooledParts(source: AsyncIterable<Uint8Array>, size: number): AsyncIterable<Uint8Array> {
    const take = () => {
      if (size !== this.#partSize) return new Uint8Array(size);
      const b = this.#idleParts.pop() ?? new Uint8Array(size);
      this.#pooled.set(b.buffer, b);
      return b;
    };
    // `buf` is the part being filled; undefined while a filled part is out with the consumer.
    let buf: Uint8Array | undefined = take();
    let fill = 0;
    try {
      for await (const chunk of source) {
        let offset = 0;
        while (offset < chunk.length) {
          buf ??= take();
          const n = Math.min(size - fill, chunk.length - offset);
          buf.set(chunk.subarray(offset, offset + n), fill);
          fill += n;
          offset += n;
          if (fill === size) {
            const full: Uint8Array = buf;
            buf = undefined;
            fill = 0;
            yield full;
          }
        }
      }
      if (buf && fill > 0) {
        const last = buf.subarray(0, fill);
        buf = undefined;
        yield last;
      }
    } finally {
      if (buf) this.#recycle(buf);
    }
  }

  /** Gives a pooled part buffer back (parts of other sizes and plain arrays are left to the GC). */
  #recycle(part: Uint8Array): void {
    const full = this.#pooled.get(part.buffer);
    if (!full) return;
    this.#pooled.delete(part.buffer);
    this.#idleParts.push(full);
  }

  #partSizeFor(length: number | undefined): number {
    // Stay under S3's 10,000-part limit when the length is known.
    return length === undefined
      ? this.#partSize
      : Math.max(this.#partSize, Math.ceil(length / (MAX_PARTS - 1)));
  }

  /**
   * One PUT with Content-Length = `length`, the body streamed through. A body that runs short or long
   * breaks the request (the store keeps nothing: a PUT is all or nothing), reported as SOURCE_LENGTH.
   */
  async #putStreamed(
    key: string,
    body: AsyncIterable<Uint8Array>,
    length: number,
  ): Promise<{ size: number }> {
    let size = 0;
    let failure: unknown;
    // A failing body must also end the HTTP request: the SDK pipes the stream, and a pipe does not
    // pass errors on, so the request would wait for the missing bytes forever.
    const abort = new AbortController();
    const fail = (err: unknown): never => {
      failure ??= err;
      abort.abort();
      throw err;
    };
    async function* counted(): AsyncIterable<Uint8Array> {
      try {
        for await (const chunk of body) {
          size += chunk.length;
          if (size > length) fail(lengthMismatch(length, size));
          yield chunk;
        }
      } catch (err) {
        fail(err);
      }
      if (size !== length) fail(lengthMismatch(length, size));
    }
    const stream = Readable.from(counted(), { objectMode: false });
    stream.on('error', () => {}); // reported through `failure`
    try {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.#full(key),
          Body: stream,
          ContentLength: length,
        }),
        { abortSignal: abort.signal },
      );
    } catch (err) {
      if (failure) throw failure;
      throw storeError('put', err);
    }
    if (failure) throw failure;
    return { size };
  }

  async #putSingle(key: string, bytes: Uint8Array): Promise<void> {
    try {
      await this.#client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.#full(key),
          Body: bytes,
          ContentLength: bytes.length,
        }),
      );
    } catch (err) {
      throw storeError('put', err);
    }
  }

  async #putMultipart(
    key: string,
    parts: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    expected: number | undefined,
  ): Promise<{ size: number }> {
    const Key = this.#full(key);
    let uploadId: string | undefined;
    const inFlight = new Set<Promise<void>>();
    try {
      const created = await this.#client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key }));
      uploadId = created.UploadId;
      if (!uploadId) throw new Error('CreateMultipartUpload returned no UploadId');
      const done: { PartNumber: number; ETag: string }[] = [];
      let failure: unknown;
      let size = 0;
      let partNumber = 0;
      const it =
        Symbol.asyncIterator in parts
          ? (parts as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
          : (parts as Iterable<Uint8Array>)[Symbol.iterator]();
      for (;;) {
        // The permit covers the part from before it is filled (pulling it fills it) until its
        // request settles, so all uploads of this store together hold at most the budget.
        const release = await this.#partBudget.acquire();
        let next: IteratorResult<Uint8Array>;
        try {
          next = await it.next();
        } catch (err) {
          release();
          throw err;
        }
        if (next.done || failure) {
          if (!next.done) this.#recycle(next.value);
          release();
          if (!next.done) await it.return?.();
          break;
        }
        const part = next.value;
        let sent = false;
        try {
          size += part.length;
          if (expected !== undefined && size > expected) throw lengthMismatch(expected, size);
          partNumber += 1;
          if (partNumber > MAX_PARTS) throw new RangeError('object too large for S3 multipart upload');
          const n = partNumber;
          const p: Promise<void> = this.#client
            .send(
              new UploadPartCommand({
                Bucket: this.bucket,
                Key,
                UploadId: uploadId,
                PartNumber: n,
                Body: part,
                ContentLength: part.length,
              }),
            )
            .then(
              (r) => {
                if (!r.ETag) throw new Error('UploadPart returned no ETag');
                done.push({ PartNumber: n, ETag: r.ETag });
              },
              (err: unknown) => {
                failure ??= err;
              },
            )
            .finally(() => {
              inFlight.delete(p);
              this.#recycle(part);
              release();
            });
          inFlight.add(p);
          sent = true;
        } finally {
          if (!sent) {
            this.#recycle(part);
            release();
          }
        }
        // Back-pressure: at most partConcurrency parts in memory and on the wire.
        while (inFlight.size >= this.#partConcurrency) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      if (failure) throw failure;
      if (expected !== undefined && size !== expected) throw lengthMismatch(expected, size);
      done.sort((a, b) => a.PartNumber - b.PartNumber);
      await this.#client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key,
          UploadId: uploadId,
          MultipartUpload: { Parts: done },
        }),
      );
      return { size };
    } catch (err) {
      // Nothing becomes visible: the parts are discarded.
      await Promise.allSettled(inFlight);
      if (uploadId) {
        await this.#client
          .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId }))
          .catch(() => undefined);
      }
      throw storeError('put', err);
    }
  }

  /** `size` is the number of bytes in `body` (the range's length when a range is asked for). */
  async get(
    key: string,
    range?: { start: number; end?: number },
  ): Promise<{ size: number; body: AsyncIterable<Uint8Array> }> {
    assertBlobKey(key);
    assertRange(range);
    const Range = range ? `bytes=${range.start}-${range.end ?? ''}` : undefined;
    try {
      const res = await this.#client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.#full(key), ...(Range ? { Range } : {}) }),
      );
      if (res.ContentLength === undefined) throw new Error('S3 response without Content-Length');
      const body = res.Body as AsyncIterable<Uint8Array> | undefined;
      return { size: res.ContentLength, body: body ?? emptyBody() };
    } catch (err) {
      if (isNotFound(err)) throw notFound();
      // 416: the range starts at or past the end (S3 also answers 416 to any range of an empty object).
      if (statusOf(err) === 416 || (err as SdkError)?.name === 'InvalidRange')
        throw badRange({ start: range?.start });
      throw storeError('get', err);
    }
  }

  async stat(key: string): Promise<{ size: number; modifiedAt: Date } | undefined> {
    assertBlobKey(key);
    try {
      const res = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.#full(key) }),
      );
      return { size: res.ContentLength ?? 0, modifiedAt: res.LastModified ?? new Date(0) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw storeError('stat', err);
    }
  }

  async *list(
    prefix: string,
    opts?: { after?: string; limit?: number },
  ): AsyncIterable<{ key: string; size: number }> {
    assertBlobPrefix(prefix);
    if (opts?.after !== undefined && opts.after !== '') assertBlobKey(opts.after);
    let remaining = opts?.limit ?? Number.POSITIVE_INFINITY;
    if (remaining <= 0) return;
    let token: string | undefined;
    const startAfter = opts?.after ? this.#full(opts.after) : undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.#full(prefix),
            MaxKeys: Math.min(1000, remaining),
            ...(token ? { ContinuationToken: token } : startAfter ? { StartAfter: startAfter } : {}),
          }),
        );
      } catch (err) {
        throw storeError('list', err);
      }
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        yield { key: o.Key.slice(this.prefix.length), size: o.Size ?? 0 };
        if (--remaining <= 0) return;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    assertBlobKey(key);
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.#full(key) }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw storeError('delete', err);
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    assertBlobPrefix(prefix);
    let deleted = 0;
    // Collect a page, delete it, list again from the start: deleting while paginating is safe
    // because deleted keys no longer appear.
    for (;;) {
      const keys: string[] = [];
      for await (const o of this.list(prefix, { limit: 1000 })) keys.push(o.key);
      if (keys.length === 0) return deleted;
      deleted += await this.#deleteMany(keys);
    }
  }

  async #deleteMany(keys: string[]): Promise<number> {
    if (this.#bulkDelete === 'batch') {
      try {
        const res = await this.#client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: keys.map((k) => ({ Key: this.#full(k) })), Quiet: true },
          }),
        );
        const failed = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length > 0) {
          throw storeError('deletePrefix', {
            name: failed[0]?.Code ?? 'DeleteError',
            $metadata: { httpStatusCode: 500 },
          });
        }
        return keys.length;
      } catch (err) {
        const status = statusOf(err);
        if (status !== 501 && (err as SdkError)?.name !== 'NotImplemented')
          throw storeError('deletePrefix', err);
        this.#bulkDelete = 'single';
      }
    }
    // One by one, a few at a time.
    let i = 0;
    const worker = async (): Promise<void> => {
      while (i < keys.length) {
        const k = keys[i++]!;
        await this.delete(k);
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, keys.length) }, worker));
    return keys.length;
  }

  async close(): Promise<void> {
    if (this.#ownsClient) this.#client.destroy();
  }
}

async function* emptyBody(): AsyncIterable<Uint8Array> {}

function* sliceParts(bytes: Uint8Array, partSize: number): Iterable<Uint8Array> {
  for (let o = 0; o < bytes.length; o += partSize)
    yield bytes.subarray(o, Math.min(o + partSize, bytes.length));
}

async function* prepend<T>(first: T[], rest: AsyncIterator<T>): AsyncIterable<T> {
  yield* first;
  for (;;) {
    const r = await rest.next();
    if (r.done) return;
    yield r.value;
  }
}

/** Regroups a byte stream into chunks of exactly `size` bytes (the last may be shorter). */
export async function* rechunk(source: AsyncIterable<Uint8Array>, size: number): AsyncIterable<Uint8Array> {
  let buf = new Uint8Array(size);
  let fill = 0;
  for await (const chunk of source) {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(size - fill, chunk.length - offset);
      buf.set(chunk.subarray(offset, offset + n), fill);
      fill += n;
      offset += n;
      if (fill === size) {
        yield buf;
        buf = new Uint8Array(size);
        fill = 0;
      }
    }
  }
  if (fill > 0) yield buf.subarray(0, fill);
}

/** Opens an S3 blob store from `s3://...` (see blob-store-factory.ts for the URL's parameters). */
export async function openS3BlobStore(url: string): Promise<S3BlobStore> {
  return new S3BlobStore(parseS3BlobStoreUrl(url));
}

/** Counting semaphore: `acquire()` resolves with a release function once a permit is free. */
class Semaphore {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(permits: number) {
    this.#free = permits;
  }

  async acquire(): Promise<() => void> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiting.push(r));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    };
  }
}
