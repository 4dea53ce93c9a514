/**
 * Resumable uploads (tus 1.0.0, spec 6.6) with @tus/server. Every request carries the upload token
 * from an upload form (`Authorization: Bearer <token>`): it names exactly one upload id and its
 * maximum length, so a token creates one upload, once, no longer than its length. Completed
 * messages uploads are committed (archives/service.ts) before the final PATCH is answered; media
 * uploads wait for PUT /v1/archives/media. The tus file store keeps offsets on disk, so an upload
 * resumes after a dropped connection or a server restart.
 */
import path from 'node:path';
import { ERROR_STATUS } from '@coffer/protocol';
import { FileStore } from '@tus/file-store';
import { commitMessagesUpload, type UploadSource } from '../archives/service.ts';
import type { ServerContext } from '../context.ts';
import { num } from '../db/schema.ts';
import { asOutageError, causeLabel, retryAfterFor } from '../http/outage-errors.ts';
import { createTusStorage, type ReadableDataStore } from '../tus/tus-storage.ts';
import { bearer, verifyToken } from '../util/tokens.ts';
import { JsonErrorTusServer, tusErrorBody } from './tus-errors.ts';

interface UploadToken {
  aud: 'upload';
  exp: number;
  u: string;
  m: number;
  [k: string]: unknown;
}

const fail = (status: number, code: string, message: string) => ({
  status_code: status,
  body: tusErrorBody(code, message),
});

export function createUploadSource(store: ReadableDataStore): UploadSource {
  // @tus/file-store keeps upload `id` in the file `<directory>/<id>` (ids are our own random ids).
  const dir = store instanceof FileStore ? store.directory : undefined;
  return {
    ...(dir ? { localPath: (id: string) => path.join(dir, id) } : {}),
    // The file store returns a stream, the S3 store a promise of one.
    read: async function* (id) {
      yield* await store.read(id);
    },
    remove: (id) => store.remove(id),
    async status(id) {
      try {
        const u = await store.getUpload(id);
        return { size: u.size, offset: u.offset };
      } catch {
        return undefined;
      }
    },
  };
}

export function createTus(ctx: ServerContext) {
  // Files under tusDir (embedded) or the S3 bucket, with a PostgreSQL locker when several processes run.
  const storage = createTusStorage(ctx.config);
  const store = storage.datastore;
  const source = createUploadSource(store);
  const tokenOf = (req: { headers: { get(n: string): string | null } }): UploadToken => {
    const t = bearer(req.headers.get('authorization'));
    const payload = t ? verifyToken<UploadToken>(ctx.secret, t, 'upload', ctx.now()) : undefined;
    if (!payload || typeof payload.u !== 'string' || typeof payload.m !== 'number') {
      throw fail(401, 'COFFER_ERR_UPLOAD_TOKEN_INVALID', 'the upload token is missing, forged or expired');
    }
    return payload;
  };

  const tus = new JsonErrorTusServer({
    path: '/v1/uploads',
    datastore: store,
    ...(storage.locker ? { locker: storage.locker } : {}),
    relativeLocation: true,
    maxSize: (req) => tokenOf(req).m,
    namingFunction: (req) => tokenOf(req).u,
    async onIncomingRequest(req, uploadId) {
      const token = tokenOf(req);
      if (req.method !== 'POST' && req.method !== 'OPTIONS' && uploadId !== token.u) {
        throw fail(401, 'COFFER_ERR_UPLOAD_TOKEN_INVALID', 'the upload token is for another upload');
      }
    },
    async onUploadCreate(req, upload) {
      const token = tokenOf(req);
      if (upload.size === undefined || upload.size > token.m) {
        throw fail(413, 'COFFER_ERR_UPLOAD_TOO_LARGE', 'the upload is longer than its token allows');
      }
      const r = await ctx.db
        .updateTable('uploads')
        .set({ state: 'created', size: upload.size })
        .where('upload_id', '=', token.u)
        .where('state', '=', 'issued')
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) {
        throw fail(409, 'COFFER_ERR_UPLOAD_TOKEN_USED', 'this upload token was already used');
      }
      return {};
    },
    async onUploadFinish(_req, upload) {
      const row = await ctx.db
        .selectFrom('uploads')
        .selectAll()
        .where('upload_id', '=', upload.id)
        .executeTakeFirst();
      if (!row) throw fail(410, 'COFFER_ERR_SOURCE_GONE', 'the upload record is gone');
      const size = upload.size ?? upload.offset;
      if (row.kind === 'messages') {
        await commitMessagesUpload(ctx, source, upload.id, size);
      } else {
        await ctx.db
          .updateTable('uploads')
          .set({ state: 'complete', size })
          .where('upload_id', '=', upload.id)
          .execute();
      }
      return {};
    },
    onResponseError(_req, err) {
      if (err instanceof Error) {
        // A documented failure keeps its code (e.g. 503 COFFER_ERR_BLOB_STORE_UNAVAILABLE); the
        // database or a disk failing gets its outage code (503 DATABASE_UNAVAILABLE, 507 STORAGE_FULL).
        const e = asOutageError(err) ?? err;
        const code = (e as { code?: unknown }).code;
        const status = typeof code === 'string' ? ERROR_STATUS[code] : undefined;
        ctx.log.error({ code, cause: causeLabel(err) }, 'tus upload error');
        if (process.env.COFFER_DEBUG_TUS) console.error(err);
        if (typeof code === 'string' && status) {
          const retryAfterSeconds = retryAfterFor(code);
          return {
            status_code: status,
            body: tusErrorBody(code, e.message, retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
          };
        }
        return fail(500, 'COFFER_ERR_INTERNAL', 'upload failed on the server; resume later');
      }
      // @tus/server's own errors (plain text) are rewritten with a code by JsonErrorTusServer.write.
      return undefined;
    },
  });

  /** After a restart: finished messages uploads whose commit was interrupted are committed now. */
  async function recover(): Promise<number> {
    const rows = await ctx.db
      .selectFrom('uploads')
      .select(['upload_id', 'size'])
      .where('kind', '=', 'messages')
      .where('state', '=', 'created')
      .execute();
    let n = 0;
    for (const r of rows) {
      const st = await source.status(r.upload_id);
      if (st && st.size !== undefined && st.offset === st.size && st.size === num(r.size)) {
        // With several processes another one may be committing (and then removing) this upload
        // right now: the commit is idempotent, and a lost race must not stop this process starting.
        try {
          await commitMessagesUpload(ctx, source, r.upload_id, st.size);
          n++;
        } catch (err) {
          ctx.log.warn(
            { err: (err as Error).message },
            'recovering a finished upload failed; retried at next start',
          );
        }
      }
    }
    return n;
  }

  return { tus, store, source, recover, tokenOf, close: storage.close };
}
