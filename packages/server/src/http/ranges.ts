// Serves a blob with HTTP range support (RFC 9110 section 14): one range per request, which is what
// resumable downloads and the sealed-stream reader's two passes need.
import { Readable } from 'node:stream';
import { CofferError } from '@coffer/crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { BlobStore } from '../storage/blob-store.ts';

export async function serveRange(
  req: FastifyRequest,
  reply: FastifyReply,
  blobs: BlobStore,
  key: string,
  modifiedAt: Date | undefined,
) {
  const st = await blobs.stat(key);
  if (!st) throw new CofferError('COFFER_ERR_BLOB_NOT_FOUND', 'the stored object does not exist');
  reply.header('accept-ranges', 'bytes');
  reply.header('last-modified', (modifiedAt ?? st.modifiedAt).toUTCString());
  reply.header('content-type', 'application/octet-stream');
  reply.header('cache-control', 'private, no-store');
  const range = req.headers.range;
  if (!range) {
    reply.header('content-length', String(st.size));
    const { body } = await blobs.get(key);
    return reply.send(Readable.from(body));
  }
  const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
  let start: number;
  let end: number;
  if (!m || (m[1] === '' && m[2] === '')) {
    throw new CofferError(
      'COFFER_ERR_RANGE_NOT_SATISFIABLE',
      'only one byte range of the form bytes=a-b is supported',
    );
  }
  if (m[1] === '') {
    const suffix = Number(m[2]);
    start = Math.max(0, st.size - suffix);
    end = st.size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? st.size - 1 : Math.min(Number(m[2]), st.size - 1);
  }
  if (start >= st.size || end < start || st.size === 0) {
    reply.header('content-range', `bytes */${st.size}`);
    throw new CofferError('COFFER_ERR_RANGE_NOT_SATISFIABLE', 'the byte range is outside the object');
  }
  const { body } = await blobs.get(key, { start, end });
  reply.status(206);
  reply.header('content-range', `bytes ${start}-${end}/${st.size}`);
  reply.header('content-length', String(end - start + 1));
  return reply.send(Readable.from(body));
}
