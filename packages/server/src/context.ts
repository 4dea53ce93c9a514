import type { Kysely } from 'kysely';
import type { ServerConfig } from './config.ts';
import type { Database } from './db/schema.ts';
import type { BlobStore } from './storage/blob-store.ts';

/** What every service needs: configuration, stores, the server secret and an injectable clock. */
export interface ServerContext {
  config: ServerConfig;
  db: Kysely<Database>;
  blobs: BlobStore;
  secret: string;
  now: () => number;
  /** Test-only fault injection (crash tests): pause after the blob is stored, before the commit transaction. */
  faultDelayCommitMs?: number;
  log: {
    info(obj: object, msg?: string): void;
    warn(obj: object, msg?: string): void;
    error(obj: object, msg?: string): void;
  };
}
