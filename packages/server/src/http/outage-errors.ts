/**
 * Failures of the services behind the server, turned into documented codes (issue 7) instead of a
 * generic 500:
 * - the metadata database cannot be reached or used (PostgreSQL down, restarting, refusing
 *   connections; SQLite busy, unreadable or read-only): 503 COFFER_ERR_DATABASE_UNAVAILABLE with
 *   Retry-After, because it usually comes back by itself;
 * - no space left (ENOSPC/EDQUOT from the file stores, SQLITE_FULL, PostgreSQL's disk_full, an S3
 *   store's "storage full" or quota answer): 507 COFFER_ERR_STORAGE_FULL, which needs an operator;
 * - an S3 client failure that no driver wrapped (the tus S3 store calls the SDK directly): 503
 *   COFFER_ERR_BLOB_STORE_UNAVAILABLE.
 * Nothing here changes what a failed request did: the write order (blob, then one transaction)
 * already guarantees that a failure leaves the previous backup current.
 */
import { CofferError } from '@coffer/crypto';

/** Seconds a client is asked to wait after a database or blob store outage (a restart takes seconds). */
export const DATABASE_RETRY_AFTER_SECONDS = 5;
/** Seconds after a full store: space comes back only when an operator acts. */
export const STORAGE_FULL_RETRY_AFTER_SECONDS = 60;

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** errno codes of a full disk or an exhausted quota. */
const FULL_ERRNO = new Set(['ENOSPC', 'EDQUOT']);
/** Socket-level failures: with the S3 clients wrapped by their drivers, these come from pg. */
const NETWORK_ERRNO = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);
/** Messages of the pg driver when its connection is gone or never came up. */
const PG_CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Connection ended unexpectedly',
];
/** S3-compatible stores' answers that mean "out of space" (MinIO, Ceph RGW, plain HTTP 507). */
const S3_FULL_NAMES = new Set(['XMinioStorageFull', 'QuotaExceeded', 'InsufficientStorage', 'StorageFull']);

export type OutageCode =
  | 'COFFER_ERR_DATABASE_UNAVAILABLE'
  | 'COFFER_ERR_STORAGE_FULL'
  | 'COFFER_ERR_BLOB_STORE_UNAVAILABLE';

/** The outage code of `err` (or of an error in its cause chain), or undefined for anything else. */
export function outageCode(err: unknown): OutageCode | undefined {
  let e = err as ErrorLike | undefined;
  for (let depth = 0; depth < 4 && e && typeof e === 'object'; depth++) {
    const found = classify(e);
    if (found) return found;
    // Another documented answer (e.g. BLOB_STORE_UNAVAILABLE from a driver) is not ours to change.
    if (typeof e.code === 'string' && e.code.startsWith('COFFER_ERR_')) return undefined;
    e = e.cause as ErrorLike | undefined;
  }
  return undefined;
}

/** True if an S3 SDK error (or answer) means the store is out of space. */
export function isS3StorageFull(err: unknown): boolean {
  const e = err as ErrorLike | undefined;
  return (
    (typeof e?.name === 'string' && S3_FULL_NAMES.has(e.name)) ||
    (typeof e?.code === 'string' && S3_FULL_NAMES.has(e.code)) ||
    e?.$metadata?.httpStatusCode === 507
  );
}

function classify(e: ErrorLike): OutageCode | undefined {
  const code = typeof e.code === 'string' ? e.code : '';
  if (code === 'COFFER_ERR_STORAGE_FULL' || code === 'COFFER_ERR_DATABASE_UNAVAILABLE') return code;
  if (code.startsWith('COFFER_ERR_')) return undefined;
  if (FULL_ERRNO.has(code)) return 'COFFER_ERR_STORAGE_FULL';
  // The AWS SDK puts $metadata on every error it raises, network errors included.
  if (e.$metadata && typeof e.$metadata === 'object') {
    return isS3StorageFull(e) ? 'COFFER_ERR_STORAGE_FULL' : 'COFFER_ERR_BLOB_STORE_UNAVAILABLE';
  }
  // better-sqlite3: SqliteError with SQLite's extended result code name.
  if (code.startsWith('SQLITE_')) {
    if (code === 'SQLITE_FULL') return 'COFFER_ERR_STORAGE_FULL';
    if (
      /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|READONLY|CORRUPT|NOTADB|PROTOCOL)/.test(code) &&
      // an I/O error from a full disk is still a full disk
      !/ENOSPC|disk is full|database or disk is full/i.test(String(e.message))
    ) {
      return 'COFFER_ERR_DATABASE_UNAVAILABLE';
    }
    if (/^SQLITE_IOERR/.test(code)) return 'COFFER_ERR_STORAGE_FULL';
    return undefined;
  }
  // pg: SQLSTATE codes (five characters) of a server that is going away or cannot take work.
  if (/^[0-9A-Z]{5}$/.test(code)) {
    if (code === '53100') return 'COFFER_ERR_STORAGE_FULL'; // disk_full
    if (
      code.startsWith('08') || // connection_exception
      code === '57P01' || // admin_shutdown
      code === '57P02' || // crash_shutdown
      code === '57P03' || // cannot_connect_now (starting up, recovery)
      code === '53300' || // too_many_connections
      code === '53200' || // out_of_memory
      code === '58030' || // io_error
      code === '25006' // read_only_sql_transaction: a standby after a failover
    ) {
      return 'COFFER_ERR_DATABASE_UNAVAILABLE';
    }
    return undefined;
  }
  if (NETWORK_ERRNO.has(code)) return 'COFFER_ERR_DATABASE_UNAVAILABLE';
  const message = typeof e.message === 'string' ? e.message : '';
  if (PG_CONNECTION_MESSAGES.some((m) => message.startsWith(m))) return 'COFFER_ERR_DATABASE_UNAVAILABLE';
  return undefined;
}

const MESSAGES: Record<OutageCode, string> = {
  COFFER_ERR_DATABASE_UNAVAILABLE:
    'the server cannot reach its metadata database right now; nothing was changed, retry later',
  COFFER_ERR_STORAGE_FULL:
    'the server has no storage space left; nothing half-written was kept, retry once space is freed',
  COFFER_ERR_BLOB_STORE_UNAVAILABLE: 'the blob store failed or could not be reached; retry later',
};

/**
 * `err` as a CofferError with its outage code and Retry-After (details.retryAfterSeconds), or
 * undefined when it is not an outage. The cause is kept for logs; the message never carries the
 * original text (it may name hosts, paths or SQL).
 */
export function asOutageError(err: unknown): CofferError | undefined {
  const code = outageCode(err);
  if (!code) return undefined;
  if (err instanceof CofferError && err.code === code) return err;
  return new CofferError(code, MESSAGES[code], {
    cause: err,
    details: { retryAfterSeconds: retryAfterFor(code), cause: causeLabel(err) },
  });
}

/** The Retry-After (seconds) that goes with an outage code; undefined for other codes. */
export function retryAfterFor(code: string): number | undefined {
  if (code === 'COFFER_ERR_STORAGE_FULL') return STORAGE_FULL_RETRY_AFTER_SECONDS;
  if (code === 'COFFER_ERR_DATABASE_UNAVAILABLE' || code === 'COFFER_ERR_BLOB_STORE_UNAVAILABLE') {
    return DATABASE_RETRY_AFTER_SECONDS;
  }
  return undefined;
}

/** A short, safe label of the underlying failure for operators' logs (errno, SQLSTATE, SDK name). */
export function causeLabel(err: unknown): string {
  let e = err as ErrorLike | undefined;
  for (let depth = 0; depth < 4 && e && typeof e === 'object'; depth++) {
    const code = typeof e.code === 'string' && !e.code.startsWith('COFFER_ERR_') ? e.code : undefined;
    if (code) return code;
    if (e.$metadata && typeof e.name === 'string') return e.name;
    e = e.cause as ErrorLike | undefined;
  }
  const name = (err as ErrorLike | undefined)?.name;
  return typeof name === 'string' ? name : 'Error';
}
