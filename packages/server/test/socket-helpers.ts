// Drives a listening server over a real socket: a fetch-backed TestClient and tus-js-client uploads.
import type { InjectOptions } from 'fastify';
import * as tus from 'tus-js-client';
import { TestClient } from './helpers.ts';

export function fetchInject(base: string) {
  return async (o: InjectOptions) => {
    const headers = (o.headers ?? {}) as Record<string, string>;
    let body: string | undefined;
    if (o.payload !== undefined) {
      body = typeof o.payload === 'string' ? o.payload : JSON.stringify(o.payload);
      if (!headers['content-type']) headers['content-type'] = 'application/json';
    }
    const res = await fetch(base + (o.url as string), {
      method: o.method as string,
      headers,
      ...(body === undefined ? {} : { body }),
    });
    const raw = Buffer.from(await res.arrayBuffer());
    return {
      statusCode: res.status,
      body: raw.toString('utf8'),
      rawPayload: raw,
      headers: Object.fromEntries(res.headers.entries()),
    } as never;
  };
}

export function socketClient(base: string, now: () => number = Date.now, identifier?: string): TestClient {
  return new TestClient(fetchInject(base), now, identifier);
}

export interface TusForm {
  uploadUrl: string;
  headers: Record<string, string>;
  uploadId: string;
}

/** Uploads `data` with tus-js-client; `stopAfter` aborts once that many bytes were acknowledged. */
export function tusUpload(
  form: TusForm,
  data: Buffer,
  o: {
    chunkSize?: number;
    stopAfter?: number;
    uploadUrl?: string;
    onChunk?: (accepted: number) => void;
  } = {},
): Promise<{ url: string | null; stopped: boolean }> {
  return new Promise((resolve, reject) => {
    const upload: tus.Upload = new tus.Upload(data, {
      endpoint: form.uploadUrl,
      headers: form.headers,
      chunkSize: o.chunkSize ?? Number.POSITIVE_INFINITY,
      retryDelays: [],
      storeFingerprintForResuming: false,
      ...(o.uploadUrl ? { uploadUrl: o.uploadUrl } : {}),
      onChunkComplete(_chunk, accepted) {
        o.onChunk?.(accepted);
        if (o.stopAfter !== undefined && accepted >= o.stopAfter && accepted < data.length) {
          void upload.abort().then(() => resolve({ url: upload.url, stopped: true }));
        }
      },
      onSuccess: () => resolve({ url: upload.url, stopped: false }),
      onError: (err) => reject(err),
    });
    upload.start();
  });
}
