import type { BlobStore } from './blob-store.ts';

export interface RetryOptions {
  /** Attempts per operation, including the first (default 4). */
  attempts?: number;
  /** First back-off delay in ms, doubled each time, with full jitter (default 100). */
  baseDelayMs?: number;
  /** Upper bound for one delay (default 2000). */
  maxDelayMs?: number;
  /** Called before each retry (for logs and metrics; gets only the operation and error code). */
  onRetry?: (info: { operation: string; attempt: number; code: string | undefined }) => void;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Transient failure = COFFER_ERR_BLOB_STORE_UNAVAILABLE whose details do not say `retryable: false`.
 * Not found, invalid key/range and length mismatches are answers, not failures: never retried.
 */
export function isTransientBlobError(err: unknown): boolean {
  const e = err as { code?: unknown; details?: { retryable?: unknown } } | null;
  return e?.code === 'COFFER_ERR_BLOB_STORE_UNAVAILABLE' && e.details?.retryable !== false;
}

/**
 * Wraps any BlobStore with retries (restic's layout: retry, logging and metrics wrap a driver
 * rather than living in it).
 * - put: retried only when the body is a Uint8Array (a stream cannot be replayed; the S3 driver's
 *   SDK still retries each part, which it holds in memory).
 * - get: opening is retried; if the body stream breaks midway, reading resumes with a ranged get
 *   from the next byte, so a long download survives a dropped connection.
 * - list: a broken listing resumes after the last key it yielded (keys come in order).
 * - stat, delete, deletePrefix: idempotent, retried as a whole.
 */
export function withRetry(store: BlobStore, opts: RetryOptions = {}): BlobStore {
  const attempts = Math.max(1, opts.attempts ?? 4);
  const base = opts.baseDelayMs ?? 100;
  const max = opts.maxDelayMs ?? 2000;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  async function backoff(operation: string, attempt: number, err: unknown): Promise<void> {
    opts.onRetry?.({ operation, attempt, code: (err as { code?: string } | null)?.code });
    await sleep(Math.random() * Math.min(max, base * 2 ** (attempt - 1)));
  }

  async function retry<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (attempt >= attempts || !isTransientBlobError(err)) throw err;
        await backoff(operation, attempt, err);
      }
    }
  }

  // putFile is local (no transient failures to retry): passed through when the driver has it.
  const putFile = store.putFile?.bind(store);
  return {
    ...(putFile ? { putFile } : {}),
    put(key, body, putOpts) {
      if (body instanceof Uint8Array) return retry('put', () => store.put(key, body, putOpts));
      return store.put(key, body, putOpts);
    },

    async get(key, range) {
      const first = await retry('get', () => store.get(key, range));
      const start = range?.start ?? 0;
      async function* resuming(): AsyncIterable<Uint8Array> {
        let body = first.body;
        let position = start;
        let failures = 0;
        for (;;) {
          try {
            for await (const chunk of body) {
              position += chunk.length;
              yield chunk;
            }
            return;
          } catch (err) {
            // `size` is the length of the body asked for, so the last byte is start + size - 1.
            const last = start + first.size - 1;
            failures += 1;
            if (position > last) return; // broke after the last byte: nothing left to fetch
            if (failures >= attempts || !isTransientReadError(err)) throw err;
            await backoff('get', failures, err);
            const next = await retry('get', () => store.get(key, { start: position, end: last }));
            // A different length means the object was replaced under us: never splice two objects.
            // (Coffer writes each blob key once; a same-length replacement is not detected here.)
            if (next.size !== last - position + 1) throw err;
            body = next.body;
          }
        }
      }
      return { size: first.size, body: resuming() };
    },

    stat: (key) => retry('stat', () => store.stat(key)),

    async *list(prefix, listOpts) {
      let after = listOpts?.after;
      let remaining = listOpts?.limit;
      let failures = 0;
      for (;;) {
        try {
          const page = store.list(prefix, {
            ...(after !== undefined ? { after } : {}),
            ...(remaining !== undefined ? { limit: remaining } : {}),
          });
          for await (const item of page) {
            after = item.key;
            if (remaining !== undefined) remaining -= 1;
            yield item;
          }
          return;
        } catch (err) {
          failures += 1;
          if (failures >= attempts || !isTransientBlobError(err)) throw err;
          await backoff('list', failures, err);
        }
      }
    },

    delete: (key) => retry('delete', () => store.delete(key)),
    deletePrefix: (prefix) => retry('deletePrefix', () => store.deletePrefix(prefix)),
    close: () => store.close(),
  };
}

/** Errors while streaming a body: our transient code, or a socket that went away. */
function isTransientReadError(err: unknown): boolean {
  if (isTransientBlobError(err)) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return (
    code === 'ECONNRESET' ||
    code === 'EPIPE' ||
    code === 'ETIMEDOUT' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    code === 'UND_ERR_SOCKET'
  );
}
