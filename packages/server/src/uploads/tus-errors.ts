/**
 * Every error answer of /v1/uploads is Coffer's JSON error body with a documented code (issue 7).
 * @tus/server answers its own errors in plain text ("Upload-Offset conflict\n"), and some of them
 * (412 without Tus-Resumable, 400 for a malformed tus header) never reach its error hook: the one
 * place all of them pass is the server's `write`, so JsonErrorTusServer rewrites them there.
 * The tus status is kept where tus clients act on it (404, 409 offset conflict, 410, 413); protocol
 * violations (tus: 400, 403, 412, 501) are 400, and lock waits (tus: 400 or 500) 423 UPLOAD_BUSY.
 */
import { ERRORS, Server as TusServer } from '@tus/server';
import { retryAfterFor } from '../http/outage-errors.ts';

/** The Coffer JSON error body (same shape as http/errors.ts errorBody). */
export function tusErrorBody(code: string, message: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ error: { code, message, ...extra } });
}

const same = (e: { status_code: number; body: string }, status: number, body: string): boolean =>
  e.status_code === status && e.body === body;

/** Maps one of @tus/server's plain-text answers to a documented code and status. */
export function tusTextError(
  status: number,
  text: string,
): { status: number; code: string; message: string } {
  const message = text.trim().slice(0, 200) || 'the upload request failed';
  if (same(ERRORS.ERR_LOCK_TIMEOUT, status, text) || same(ERRORS.ABORTED, status, text)) {
    return {
      status: 423,
      code: 'COFFER_ERR_UPLOAD_BUSY',
      message: 'another request is writing this upload; retry shortly',
    };
  }
  if (status === 404) return { status, code: 'COFFER_ERR_UPLOAD_NOT_FOUND', message };
  if (status === 409) return { status, code: 'COFFER_ERR_UPLOAD_OFFSET_CONFLICT', message };
  if (status === 410) return { status, code: 'COFFER_ERR_SOURCE_GONE', message };
  if (status === 413) return { status, code: 'COFFER_ERR_UPLOAD_TOO_LARGE', message };
  if (status >= 500 && status !== 501) {
    return { status, code: 'COFFER_ERR_INTERNAL', message: 'upload failed on the server; resume later' };
  }
  // tus answers these 400, 403, 412 or 501; one code has one status (api.md section 7), and tus
  // clients treat every such 4xx alike (no retry), so they all become 400.
  return { status: 400, code: 'COFFER_ERR_UPLOAD_PROTOCOL', message };
}

type WriteArgs = Parameters<TusServer['write']>;

/** @tus/server whose error answers are all JSON with a code (and Retry-After when it has one). */
export class JsonErrorTusServer extends TusServer {
  override write(context: WriteArgs[0], headers: WriteArgs[1], status: number, body = '') {
    if (status < 400) return super.write(context, headers, status, body);
    let code: string | undefined;
    if (!body.startsWith('{')) {
      const mapped = tusTextError(status, body);
      status = mapped.status;
      code = mapped.code;
      body = tusErrorBody(mapped.code, mapped.message);
    } else {
      try {
        code = (JSON.parse(body) as { error?: { code?: string } }).error?.code;
      } catch {
        code = undefined;
      }
    }
    const retryAfter = code ? retryAfterFor(code) : undefined;
    if (retryAfter !== undefined) headers.set('Retry-After', String(retryAfter));
    headers.set('Content-Type', 'application/json; charset=utf-8');
    return super.write(context, headers, status, body);
  }
}
