/**
 * Where tus uploads live, chosen from the same URLs as the rest of the server:
 * - blobs in files (`file:`): @tus/file-store under `tusDir` (embedded, one process);
 * - blobs in S3 (`s3://`): S3TusStore in the same bucket, under `<prefix>tus/`, so an upload can
 *   resume on any process;
 * - metadata in PostgreSQL: the PostgresLocker, so two processes never write one upload at once.
 *   (SQLite means one process, and @tus/server's default in-memory locker is exact there.)
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileStore } from '@tus/file-store';
import { type DataStore, ERRORS, type Locker } from '@tus/server';
import { asOutageError, outageCode } from '../http/outage-errors.ts';
import { parseS3BlobStoreUrl } from '../storage/blob-store-factory.ts';
import { S3TusStore } from '../storage/s3-tus-store.ts';
import { PostgresLocker } from './postgres-locker.ts';

/** A tus DataStore that can also stream a finished upload back (file and S3 stores both can). */
export type ReadableDataStore = DataStore & {
  read(id: string): AsyncIterable<Uint8Array> | Promise<AsyncIterable<Uint8Array>>;
};

export interface TusStorage {
  kind: 'file' | 's3';
  datastore: ReadableDataStore;
  /** Undefined: @tus/server's in-process MemoryLocker. */
  locker: Locker | undefined;
  /** Closes the locker's database session and the S3 client. */
  close(): Promise<void>;
}

export function createTusStorage(config: {
  blobUrl: string;
  databaseUrl: string;
  tusDir: string;
}): TusStorage {
  const locker = /^postgres(ql)?:/.test(config.databaseUrl)
    ? new PostgresLocker(config.databaseUrl)
    : undefined;
  if (config.blobUrl.startsWith('s3:')) {
    const store = new S3TusStore({ s3: parseS3BlobStoreUrl(config.blobUrl) });
    return {
      kind: 's3',
      datastore: store,
      locker,
      async close() {
        await locker?.close();
        store.close();
      },
    };
  }
  mkdirSync(config.tusDir, { recursive: true, mode: 0o700 });
  return {
    kind: 'file',
    datastore: new FileStoreInPreparedFolder({ directory: config.tusDir }),
    locker,
    async close() {
      await locker?.close();
    },
  };
}

/**
 * @tus/file-store's constructor starts an async mkdir whose callback throws: if the folder goes
 * away before it runs (a server closed and its data folder removed at once, as tests do), that is
 * an uncaught exception that kills the process. The folder is created synchronously above, where a
 * failure is an ordinary start-up error, so the async check is switched off. (The method is
 * private in the type declarations, hence the cast.)
 */
class FileStoreInPreparedFolder extends FileStore {
  /**
   * @tus/file-store's write turns every failure into a bare 500 FILE_WRITE_ERROR, so a full disk
   * looked like a bug. Same write (append at `offset`, the file size is the offset a resume sees),
   * but ENOSPC/EDQUOT become 507 COFFER_ERR_STORAGE_FULL; the bytes written before it are kept.
   */
  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    const dir = path.resolve(this.directory);
    const file = path.join(dir, id);
    // Ids are the server's own flat random ids; anything that leaves the folder is not an upload.
    if (path.dirname(file) !== dir) throw ERRORS.FILE_NOT_FOUND;
    let received = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, done) {
        received += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(readable, count, createWriteStream(file, { flags: 'r+', start: offset }));
    } catch (err) {
      if (outageCode(err) === 'COFFER_ERR_STORAGE_FULL') throw asOutageError(err);
      throw ERRORS.FILE_WRITE_ERROR;
    }
    return offset + received;
  }
}
(
  FileStoreInPreparedFolder.prototype as unknown as { checkOrCreateDirectory(): void }
).checkOrCreateDirectory = () => {};
