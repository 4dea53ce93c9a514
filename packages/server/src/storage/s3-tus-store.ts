/**
 * tus uploads kept in the S3 bucket (scale-out): @tus/s3-store, adapted for S3-compatible servers
 * and for several server processes.
 *
 * - The same client settings as the blob store (s3-client.ts): checksums WHEN_REQUIRED (else Swift
 *   answers 500 to tus PATCH) and Content-MD5 on DeleteObjects (used by `remove`).
 * - Uploads live under `<prefix>tus/` of the bucket, beside the blobs: @tus/s3-store has no prefix
 *   option, so the public methods map the tus id to a prefixed key.
 * - No metadata cache: the default in-memory cache is per process, and another process may have
 *   completed or removed the upload since. One small GET of `<id>.info` per request instead.
 * - No object tags and no expiration (Swift has no tagging): orphaned uploads are collected by the
 *   server's own job through `remove`.
 * Every part, the `.info` object and the pending partial part are in the bucket, so an upload
 * resumes on any process; the PostgreSQL locker (tus/postgres-locker.ts) keeps writers exclusive.
 */
import type { Readable } from 'node:stream';
import { CofferError } from '@coffer/crypto';
import { S3Store } from '@tus/s3-store';
import { ERRORS, type KvStore, type Upload } from '@tus/server';
import { isS3StorageFull } from '../http/outage-errors.ts';
import type { S3BlobStoreOptions } from './s3-blob-store.ts';
import { addDeleteObjectsContentMd5, s3ClientConfig } from './s3-client.ts';

type Metadata = ConstructorParameters<typeof S3Store>[0]['cache'] extends KvStore<infer T> | undefined
  ? T
  : never;

function isMissing(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/** A store failure as a documented error (tus errors and Coffer errors pass through unchanged). */
function unavailable(operation: string, err: unknown): unknown {
  if (err instanceof CofferError || (err as { status_code?: unknown })?.status_code !== undefined) return err;
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  const full = isS3StorageFull(err);
  return new CofferError(
    full ? 'COFFER_ERR_STORAGE_FULL' : 'COFFER_ERR_BLOB_STORE_UNAVAILABLE',
    `The S3 store ${full ? 'is out of space' : 'failed'} while ${operation} (${e?.name ?? 'Error'}${status ? ` ${status}` : ''}); try again later.`,
    { cause: err, details: { operation, status, name: e?.name } },
  );
}

/** A KvStore that remembers nothing (see above). */
class NoCache implements KvStore<Metadata> {
  async get(): Promise<Metadata | undefined> {
    return undefined;
  }
  async set(): Promise<void> {}
  async delete(): Promise<void> {}
  async list(): Promise<string[]> {
    return [];
  }
}

export interface S3TusStoreOptions {
  /** Connection settings, as parsed from the blob store's `s3://` URL. */
  s3: S3BlobStoreOptions;
  /** Part size for S3 multipart (default and minimum 5 MiB, S3's limit). */
  partSize?: number;
}

export class S3TusStore extends S3Store {
  readonly keyPrefix: string;

  constructor(opts: S3TusStoreOptions) {
    const { s3 } = opts;
    super({
      partSize: opts.partSize ?? 5 * 1024 * 1024,
      useTags: false,
      expirationPeriodInMilliseconds: 0,
      cache: new NoCache(),
      s3ClientConfig: { bucket: s3.bucket, ...s3ClientConfig(s3) },
    });
    addDeleteObjectsContentMd5(this.client);
    let prefix = s3.prefix ?? '';
    if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
    this.keyPrefix = `${prefix}tus/`;
  }

  #key(id: string): string {
    return this.keyPrefix + id;
  }

  override async create(upload: Upload): Promise<Upload> {
    const id = upload.id;
    upload.id = this.#key(id);
    try {
      return await super.create(upload);
    } finally {
      upload.id = id;
    }
  }

  override read(id: string): Promise<Readable> {
    return super.read(this.#key(id));
  }

  override write(src: Readable, id: string, offset: number): Promise<number> {
    return super.write(src, this.#key(id), offset);
  }

  /**
   * @tus/s3-store answers FILE_NOT_FOUND (404) whenever reading the `.info` fails, so an unreachable
   * store looked like a lost upload and clients started over. Here a failure is checked: only a
   * missing `.info` is "not found"; anything else is 503 COFFER_ERR_BLOB_STORE_UNAVAILABLE (or 507
   * when the store says it is full), and the upload resumes once the store is back.
   */
  override async getUpload(id: string): Promise<Upload> {
    const key = this.#key(id);
    let u: Upload;
    try {
      u = await super.getUpload(key);
    } catch (err) {
      if (err === ERRORS.FILE_NOT_FOUND) await this.#assertInfoMissing(key);
      throw unavailable('reading an upload', err);
    }
    u.id = id;
    return u;
  }

  /** Returns if the `.info` object of `key` is absent; throws the store failure otherwise. */
  async #assertInfoMissing(key: string): Promise<void> {
    try {
      await this.getMetadata(key);
    } catch (err) {
      if (isMissing(err)) throw ERRORS.FILE_NOT_FOUND;
      throw unavailable('reading an upload', err);
    }
    // It is there after all (it appeared in between): the caller's failure stands.
  }

  override declareUploadLength(id: string, length: number): Promise<void> {
    return super.declareUploadLength(this.#key(id), length);
  }

  /**
   * @tus/s3-store's remove aborts the multipart upload first and gives up on NoSuchUpload - which
   * is what S3 answers for a COMPLETED upload, so finished uploads were never deleted. Here: read
   * the `.info` (absent: FILE_NOT_FOUND), abort the multipart upload if it is still open, then
   * delete the object, the pending partial part and the `.info` in one DeleteObjects request.
   */
  override async remove(id: string): Promise<void> {
    const key = this.#key(id);
    let uploadId: string | undefined;
    try {
      uploadId = (await this.getMetadata(key))['upload-id'];
    } catch (err) {
      if (isMissing(err)) throw ERRORS.FILE_NOT_FOUND;
      throw unavailable('removing an upload', err);
    }
    if (uploadId) {
      await this.client
        .abortMultipartUpload({ Bucket: this.bucket, Key: key, UploadId: uploadId })
        .catch((err: unknown) => {
          const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
          if (e.name !== 'NoSuchUpload' && e.name !== 'NoSuchKey' && e.$metadata?.httpStatusCode !== 404)
            throw err;
        });
    }
    const res = await this.client.deleteObjects({
      Bucket: this.bucket,
      Delete: { Objects: [{ Key: key }, { Key: `${key}.part` }, { Key: `${key}.info` }], Quiet: true },
    });
    const failed = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
    if (failed.length > 0) throw new Error(`deleting the upload failed: ${failed[0]?.Code}`);
  }

  /** Destroys the store's S3 client (its sockets). */
  close(): void {
    this.client.destroy();
  }
}
