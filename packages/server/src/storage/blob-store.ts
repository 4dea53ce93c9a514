/**
 * The blob store seam (docs: CONTRACTS.md "Server storage seams"). Drivers: `file:` (embedded,
 * file-blob-store.ts) and `s3:` (scale-out). One conformance suite runs against every driver.
 *
 * Contract, for every driver:
 * - Keys match `[A-Za-z0-9_\-/.]+`, at most 512 characters, no empty, `.` or `..` segment, no leading
 *   or trailing `/`. Anything else throws CofferError COFFER_ERR_INVALID_KEY before any I/O.
 * - `put` is atomic: readers see the old object (or none) until the whole new object is stored;
 *   a failed or interrupted put leaves no partial object under the key. If `opts.length` is given
 *   and the body has another length, the put fails (COFFER_ERR_SOURCE_LENGTH) and stores nothing.
 * - `get` of a missing key throws COFFER_ERR_BLOB_NOT_FOUND; a range outside the object throws
 *   COFFER_ERR_RANGE_NOT_SATISFIABLE. `range.end` is inclusive and is clamped to the last byte.
 * - `list` yields keys with the prefix in ascending byte order, strictly after `opts.after`.
 * - `delete` is idempotent; `deletePrefix` returns how many objects it removed.
 */
import { CofferError } from '@coffer/crypto';

export interface BlobStore {
  /** Stores a whole object from a stream; the object becomes visible only when complete (atomic). */
  put(
    key: string,
    body: AsyncIterable<Uint8Array> | Uint8Array,
    opts?: { length?: number },
  ): Promise<{ size: number }>;
  /**
   * Optional (file driver): stores a local file under `key` without copying it (hard link, fsync,
   * rename), leaving the source file in place; same atomicity and length check as put. Resolves
   * undefined when this file cannot be adopted (e.g. another filesystem): use put instead.
   */
  putFile?(key: string, file: string, opts?: { length?: number }): Promise<{ size: number } | undefined>;
  /** Reads an object, optionally a byte range [start, end] inclusive. Throws COFFER_ERR_BLOB_NOT_FOUND. */
  get(
    key: string,
    range?: { start: number; end?: number },
  ): Promise<{ size: number; body: AsyncIterable<Uint8Array> }>;
  stat(key: string): Promise<{ size: number; modifiedAt: Date } | undefined>;
  list(
    prefix: string,
    opts?: { after?: string; limit?: number },
  ): AsyncIterable<{ key: string; size: number }>;
  /** Idempotent. */
  delete(key: string): Promise<void>;
  deletePrefix(prefix: string): Promise<number>;
  close(): Promise<void>;
}

const KEY_RE = /^[A-Za-z0-9_\-/.]+$/;

/** Throws COFFER_ERR_INVALID_KEY unless `key` is a safe blob key (see the contract above). */
export function assertBlobKey(key: string, what = 'key'): void {
  const ok =
    typeof key === 'string' &&
    key.length > 0 &&
    key.length <= 512 &&
    KEY_RE.test(key) &&
    !key.startsWith('/') &&
    !key.endsWith('/') &&
    key.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
  if (!ok) throw new CofferError('COFFER_ERR_INVALID_KEY', `the blob ${what} is not a valid storage key`);
}

/** Prefixes may end with `/` or be empty (everything); otherwise they follow the key rules. */
export function assertBlobPrefix(prefix: string): void {
  if (prefix === '') return;
  assertBlobKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix, 'prefix');
}

/** Opens the blob store named by a URL: `file:./data/blobs` (relative to cwd) or `file:/abs/path`. */
export async function openBlobStore(url: string, opts: { baseDir?: string } = {}): Promise<BlobStore> {
  if (url.startsWith('file:')) {
    const { FileBlobStore } = await import('./file-blob-store.ts');
    const { resolve } = await import('node:path');
    return new FileBlobStore(resolve(opts.baseDir ?? process.cwd(), url.slice('file:'.length)));
  }
  if (url.startsWith('s3:')) {
    // The S3 driver is added by the scale-out work as ./s3-blob-store.ts exporting openS3BlobStore(url).
    const mod = (await import(/* @vite-ignore */ './s3-blob-store.ts')) as {
      openS3BlobStore(url: string): Promise<BlobStore>;
    };
    return mod.openS3BlobStore(url);
  }
  throw new CofferError('COFFER_ERR_CONFIG', 'the blob store URL must start with file: or s3:');
}
