import { CofferError } from '@coffer/crypto';
import type { UploadForm } from '@coffer/protocol';
import { Upload } from 'tus-js-client';
import { serviceFailure } from './api-client.ts';
import { cancelled } from './backup-stream.ts';

export interface TusUploadOptions {
  onProgress?: (sent: number, total: number) => void;
  signal?: AbortSignal;
  /** Delays between retries after a dropped connection or a server error (ms). */
  retryDelays?: number[];
  chunkSize?: number;
}

/**
 * Uploads with the tus protocol (spec 6.6) to the URL of an upload form. tus-js-client resumes from
 * the server's offset (HEAD) after a dropped connection or a server restart, for as long as the
 * retry delays last; then the error surfaces as COFFER_ERR_NETWORK (the scheduler retries later).
 */
export function tusUpload(
  form: UploadForm,
  input: unknown,
  size: number,
  opts: TusUploadOptions = {},
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(cancelled());
      return;
    }
    const upload = new Upload(input as ConstructorParameters<typeof Upload>[0], {
      endpoint: form.uploadUrl,
      headers: form.headers,
      uploadSize: size,
      chunkSize: opts.chunkSize ?? 16 * 1024 * 1024,
      retryDelays: opts.retryDelays ?? [200, 500, 1000, 2000, 4000, 8000, 15000],
      storeFingerprintForResuming: false,
      removeFingerprintOnSuccess: true,
      onShouldRetry: (err) => {
        const status = err.originalResponse?.getStatus();
        // Network failures (no response), server errors and lock conflicts are worth retrying; a full
        // store (507) is not within seconds: it surfaces at once and the scheduler retries later.
        return (
          status === undefined ||
          (status >= 500 && status !== 507) ||
          status === 423 ||
          status === 409 ||
          status === 429
        );
      },
      onProgress: (sent, total) => opts.onProgress?.(sent, total),
      onSuccess: () => {
        opts.signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      onError: (err) => {
        opts.signal?.removeEventListener('abort', onAbort);
        const response = (err as { originalResponse?: { getStatus(): number; getBody(): string } | null })
          .originalResponse;
        const status = response?.getStatus();
        // The server names what failed (database, storage, full disk): say so rather than "interrupted".
        const serverCode = serverCodeOf(response);
        const service = serviceFailure(serverCode, { status, serverCode, request: 'the upload' }, err);
        if (service) {
          reject(service);
        } else if (status === 413) {
          reject(
            new CofferError(
              'COFFER_ERR_QUOTA_FULL',
              'The server refused the upload: the backup storage is full.',
              {
                cause: err,
              },
            ),
          );
        } else if (status !== undefined && status >= 400 && status < 500) {
          reject(
            new CofferError('COFFER_ERR_SERVER', `The server refused the upload (HTTP ${status}).`, {
              cause: err,
            }),
          );
        } else {
          reject(
            new CofferError(
              'COFFER_ERR_NETWORK',
              'The upload was interrupted; Coffer will resume it later.',
              {
                cause: err,
              },
            ),
          );
        }
      },
    });
    const onAbort = () => {
      void upload.abort(false);
      reject(cancelled());
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    upload.start();
  });
}

/** The `error.code` of a Coffer JSON error body, or '' (no body, or not ours). */
function serverCodeOf(response: { getBody(): string } | null | undefined): string {
  try {
    const code = (JSON.parse(response?.getBody() ?? '') as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' ? code : '';
  } catch {
    return '';
  }
}
