/**
 * Archives (spec 6.3, Coffer form): the backup-id record, message backup versions, uploads and the
 * media tier. Write order (ARCHITECTURE "Storage write order"): blob first, then one metadata
 * transaction makes it current; a crash between leaves the previous version current and the new blob
 * an orphan, collected by the GC job. Deletions run the other way: metadata first, blobs after.
 */
import { CofferError, isSmallOrderPublicKey } from '@coffer/crypto';
import { BACKUP_NAME, dayStart, ERROR_STATUS } from '@coffer/protocol';
import type { ServerContext } from '../context.ts';
import { type BackupsTable, num } from '../db/schema.ts';
import { randomId } from '../util/crypto.ts';
import { hitRateLimit } from '../util/rate-limit.ts';
import { signToken } from '../util/tokens.ts';
import { levelConfig } from './anon-auth.ts';

/** Reads a finished tus upload (the tus data store) and removes it. */
export interface UploadSource {
  read(uploadId: string): AsyncIterable<Uint8Array>;
  remove(uploadId: string): Promise<void>;
  /** Size and offset of an upload, or undefined when it is gone. */
  status(uploadId: string): Promise<{ size: number | undefined; offset: number } | undefined>;
  /** The upload's local file (file tus store only), so a file blob store can adopt it uncopied. */
  localPath?(uploadId: string): string | undefined;
}

/**
 * Puts a finished upload under a blob key. A file tus store beside a file blob store: the blob store
 * hard-links the upload file into place (fsync + rename, no second copy of the bytes); otherwise
 * (S3, another filesystem) the bytes are streamed as before. Either way the upload file stays until
 * the caller's metadata transaction has committed, so crash recovery is unchanged.
 */
async function putUpload(
  ctx: ServerContext,
  source: UploadSource,
  uploadId: string,
  key: string,
  length: number,
): Promise<void> {
  const file = source.localPath?.(uploadId);
  if (file && ctx.blobs.putFile && (await ctx.blobs.putFile(key, file, { length }))) return;
  await ctx.blobs.put(key, source.read(uploadId), { length });
}

const backupBlobKey = (dir: string, versionId: string) => `backups/${dir}/${versionId}`;
const mediaBlobKey = (dir: string, mediaId: string) => `media/${dir}/${mediaId}`;
const dayMs = (nowMs: number) => dayStart(nowMs) * 1000;

export async function setPublicKey(
  ctx: ServerContext,
  idHash: string,
  existing: BackupsTable | undefined,
  key: Uint8Array,
  level: number,
) {
  if (key.length !== 33 || key[0] !== 0x05) {
    throw new CofferError('COFFER_ERR_BAD_REQUEST', 'backupIdPublicKey must be 33 bytes: 0x05 || X25519 key');
  }
  // Anyone can make signatures that verify under a small-order key (docs/spec/keys.md); no derived
  // key is one, so such a key is refused before it can be bound to a backup id (issue 7).
  if (isSmallOrderPublicKey(key)) {
    throw new CofferError(
      'COFFER_ERR_BAD_REQUEST',
      'backupIdPublicKey is a small-order point, not a derived key',
    );
  }
  const today = dayMs(ctx.now());
  if (existing) {
    await refresh(ctx, idHash, level);
    return;
  }
  await ctx.db
    .insertInto('backups')
    .values({
      backup_id_hash: idHash,
      public_key: Buffer.from(key).toString('base64url'),
      backup_dir: randomId(16),
      media_dir: randomId(16),
      current_version_id: null,
      last_refresh: today,
      last_media_refresh: keepsMedia(ctx, level) ? today : 0,
      created_at: ctx.now(),
    })
    .onConflict((oc) => oc.column('backup_id_hash').doNothing())
    .execute();
}

/** Levels whose media is kept while the backup lives (spec 6.5: media refresh only for PAID). */
const keepsMedia = (ctx: ServerContext, level: number) => {
  const l = levelConfig(ctx, level);
  return l.mediaBytes > 0 && l.mediaTtlDays === 0;
};

/** spec 6.5: refresh sets the last-refresh day; the media refresh only for levels that keep media. */
export async function refresh(ctx: ServerContext, idHash: string, level: number): Promise<void> {
  const today = dayMs(ctx.now());
  const media = keepsMedia(ctx, level);
  await ctx.db
    .updateTable('backups')
    .set(media ? { last_refresh: today, last_media_refresh: today } : { last_refresh: today })
    .where('backup_id_hash', '=', idHash)
    .execute();
}

export async function mediaUsage(
  ctx: ServerContext,
  idHash: string,
): Promise<{ usedBytes: number; objectCount: number }> {
  const r = await ctx.db
    .selectFrom('media')
    .select((eb) => [
      eb.fn.coalesce(eb.fn.sum<number>('object_length'), eb.val(0)).as('used'),
      eb.fn.countAll<number>().as('n'),
    ])
    .where('backup_id_hash', '=', idHash)
    .executeTakeFirst();
  return { usedBytes: num(r?.used), objectCount: num(r?.n) };
}

export async function listVersions(ctx: ServerContext, backup: BackupsTable) {
  const rows = await ctx.db
    .selectFrom('backup_versions')
    .select(['version_id', 'size', 'created_at'])
    .where('backup_id_hash', '=', backup.backup_id_hash)
    .orderBy('seq', 'desc')
    .orderBy('created_at', 'desc')
    .execute();
  return rows.map((r) => ({
    versionId: r.version_id,
    size: num(r.size),
    createdAt: num(r.created_at),
    current: r.version_id === backup.current_version_id,
  }));
}

export async function backupInfo(ctx: ServerContext, backup: BackupsTable, level: number) {
  const usage = await mediaUsage(ctx, backup.backup_id_hash);
  const versions = await listVersions(ctx, backup);
  return {
    backupDir: backup.backup_dir,
    mediaDir: backup.media_dir,
    backupName: BACKUP_NAME,
    usedSpace: usage.usedBytes,
    mediaQuotaBytes: levelConfig(ctx, level).mediaBytes,
    current: versions.find((v) => v.current) ?? null,
  };
}

export async function createUploadForm(
  ctx: ServerContext,
  idHash: string,
  kind: 'messages' | 'media',
  uploadLength: number,
  baseUrl: string,
) {
  const max = kind === 'messages' ? ctx.config.messageBackupMaxBytes : ctx.config.mediaObjectMaxBytes;
  if (uploadLength > max) {
    throw new CofferError('COFFER_ERR_UPLOAD_TOO_LARGE', `uploads of this kind are limited to ${max} bytes`, {
      details: { maxBytes: max },
    });
  }
  const now = ctx.now();
  const uploadId = randomId(16);
  const expiresAt = now + ctx.config.uploads.tokenTtlMs;
  // Each form reserves an upload row until its token expires: limit forms per backup id. One
  // transaction for the count and the row: one durable commit (fsync) per form instead of two.
  await ctx.db.transaction().execute(async (trx) => {
    await hitRateLimit(trx, `upload-form:${idHash}`, ctx.config.limits.uploadFormsPerHour, 3_600_000, now);
    await trx
      .insertInto('uploads')
      .values({
        upload_id: uploadId,
        backup_id_hash: idHash,
        kind,
        max_length: uploadLength,
        state: 'issued',
        size: null,
        created_at: now,
        expires_at: expiresAt,
      })
      .execute();
  });
  const token = signToken(ctx.secret, { aud: 'upload', exp: expiresAt, u: uploadId, m: uploadLength });
  return {
    key: uploadId,
    uploadId,
    uploadUrl: `${baseUrl}/v1/uploads`,
    headers: { Authorization: `Bearer ${token}` },
    maxLength: uploadLength,
    expiresAt,
  };
}

/**
 * Makes a finished messages upload the current backup: blob first (copied from the tus store into
 * the blob store under a fresh version key), then one transaction (version row + pointer swap +
 * upload marked committed), then pruning beyond N versions. Idempotent: a second call is a no-op.
 */
export async function commitMessagesUpload(
  ctx: ServerContext,
  source: UploadSource,
  uploadId: string,
  size: number,
) {
  const up = await ctx.db
    .selectFrom('uploads')
    .selectAll()
    .where('upload_id', '=', uploadId)
    .executeTakeFirst();
  if (up?.kind !== 'messages' || up.state === 'committed') return;
  const backup = await ctx.db
    .selectFrom('backups')
    .selectAll()
    .where('backup_id_hash', '=', up.backup_id_hash)
    .executeTakeFirst();
  if (!backup) return;
  const versionId = randomId(12);
  const blobKey = backupBlobKey(backup.backup_dir, versionId);
  await putUpload(ctx, source, uploadId, blobKey, size);
  if (ctx.faultDelayCommitMs) await new Promise((r) => setTimeout(r, ctx.faultDelayCommitMs));
  const now = ctx.now();
  const committed = await ctx.db.transaction().execute(async (trx) => {
    const r = await trx
      .updateTable('uploads')
      .set({ state: 'committed', size })
      .where('upload_id', '=', uploadId)
      .where('state', '!=', 'committed')
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return false;
    // Pointer swap first: it locks the backup row, so concurrent commits for one backup (several
    // processes; PostgreSQL runs them in parallel) queue here and each then reads the other's seq.
    await trx
      .updateTable('backups')
      .set({ current_version_id: versionId, last_refresh: dayMs(now) })
      .where('backup_id_hash', '=', backup.backup_id_hash)
      .execute();
    const last = await trx
      .selectFrom('backup_versions')
      .select((eb) => eb.fn.max('seq').as('seq'))
      .where('backup_id_hash', '=', backup.backup_id_hash)
      .executeTakeFirst();
    await trx
      .insertInto('backup_versions')
      .values({
        version_id: versionId,
        backup_id_hash: backup.backup_id_hash,
        blob_key: blobKey,
        seq: num(last?.seq) + 1,
        size,
        created_at: now,
      })
      .execute();
    return true;
  });
  if (!committed) {
    await ctx.blobs.delete(blobKey);
    return;
  }
  await source.remove(uploadId).catch(() => {});
  await pruneVersions(ctx, backup.backup_id_hash);
}

/** Keeps the newest `versionsKept` versions (and always the current one). */
export async function pruneVersions(ctx: ServerContext, idHash: string): Promise<void> {
  const backup = await ctx.db
    .selectFrom('backups')
    .selectAll()
    .where('backup_id_hash', '=', idHash)
    .executeTakeFirst();
  if (!backup) return;
  const versions = await listVersions(ctx, backup);
  const keep = Math.max(1, ctx.config.versionsKept);
  const drop = versions.slice(keep).filter((v) => !v.current);
  for (const v of drop) {
    const row = await ctx.db
      .selectFrom('backup_versions')
      .select('blob_key')
      .where('version_id', '=', v.versionId)
      .executeTakeFirst();
    await ctx.db.deleteFrom('backup_versions').where('version_id', '=', v.versionId).execute();
    if (row) await ctx.blobs.delete(row.blob_key);
  }
}

export async function restoreVersion(
  ctx: ServerContext,
  backup: BackupsTable,
  versionId: string,
): Promise<void> {
  const r = await ctx.db
    .updateTable('backups')
    .set({ current_version_id: versionId })
    .where('backup_id_hash', '=', backup.backup_id_hash)
    .where((eb) =>
      eb.exists(
        eb
          .selectFrom('backup_versions')
          .select('version_id')
          .where('version_id', '=', versionId)
          .where('backup_id_hash', '=', backup.backup_id_hash),
      ),
    )
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) !== 1)
    throw new CofferError('COFFER_ERR_VERSION_NOT_FOUND', 'no backup version with this id');
}

/** spec 6.3 DELETE: swap in fresh directories, drop the rows, then delete the old blobs. */
export async function deleteEverything(ctx: ServerContext, backup: BackupsTable): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('backup_versions').where('backup_id_hash', '=', backup.backup_id_hash).execute();
    await trx.deleteFrom('media').where('backup_id_hash', '=', backup.backup_id_hash).execute();
    await trx
      .updateTable('backups')
      .set({ backup_dir: randomId(16), media_dir: randomId(16), current_version_id: null })
      .where('backup_id_hash', '=', backup.backup_id_hash)
      .execute();
  });
  await ctx.blobs.deletePrefix(`backups/${backup.backup_dir}/`);
  await ctx.blobs.deletePrefix(`media/${backup.media_dir}/`);
}

export interface StoreMediaItem {
  sourceUploadId: string;
  objectLength: number;
  mediaId: string;
}
export type StoreMediaResult =
  | { mediaId: string; status: 200; objectLength: number }
  | { mediaId: string; status: number; error: CofferError };

/** Moves a finished transit upload into the media tier under its media id (spec 6.3 PUT /media). */
export async function storeMedia(
  ctx: ServerContext,
  source: UploadSource,
  backup: BackupsTable,
  level: number,
  req: StoreMediaItem,
) {
  const [r] = await storeMediaBatch(ctx, source, backup, level, [req]);
  if (!r || 'error' in r) throw r?.error ?? new CofferError('COFFER_ERR_INTERNAL', 'media store failed');
  return { mediaId: r.mediaId, objectLength: r.objectLength };
}

const statusOf = (code: string) => ERROR_STATUS[code] ?? 500;
const failed = (mediaId: string, err: unknown): StoreMediaResult => {
  const e =
    err instanceof CofferError
      ? err
      : new CofferError('COFFER_ERR_INTERNAL', 'storing the media object failed; try again later');
  return { mediaId, status: statusOf(e.code), error: e };
};

/**
 * The store step for 1..1000 finished transit uploads (PUT /v1/archives/media and /media/batch).
 * Per item the same checks and errors as the single endpoint; then every accepted blob is put (the
 * blob first, as ever), and ONE transaction makes all of them visible. The queries are per batch,
 * not per item: one read of the upload rows, one usage sum, one read of replaced objects.
 */
export async function storeMediaBatch(
  ctx: ServerContext,
  source: UploadSource,
  backup: BackupsTable,
  level: number,
  items: StoreMediaItem[],
): Promise<StoreMediaResult[]> {
  const idHash = backup.backup_id_hash;
  const results: Array<StoreMediaResult | undefined> = new Array(items.length);
  const uploadIds = [...new Set(items.map((i) => i.sourceUploadId))];
  const mediaIds = [...new Set(items.map((i) => i.mediaId))];
  const ups = new Map(
    (await ctx.db.selectFrom('uploads').selectAll().where('upload_id', 'in', uploadIds).execute()).map(
      (u) => [u.upload_id, u],
    ),
  );
  const usedUploads = new Set<string>();
  const valid: number[] = [];
  for (const [i, it] of items.entries()) {
    const up = ups.get(it.sourceUploadId);
    try {
      if (
        up?.kind !== 'media' ||
        up.backup_id_hash !== idHash ||
        up.state === 'issued' ||
        up.state === 'committed' ||
        usedUploads.has(it.sourceUploadId)
      ) {
        throw new CofferError(
          'COFFER_ERR_SOURCE_GONE',
          'the source upload does not exist or is not complete',
        );
      }
      if (!/^[A-Za-z0-9_-]{20}$/.test(it.mediaId)) {
        throw new CofferError(
          'COFFER_ERR_INVALID_KEY',
          'mediaId must be 15 bytes in base64url (20 characters)',
        );
      }
      usedUploads.add(it.sourceUploadId);
      if (up.state === 'created') {
        // The last byte may have arrived just before a crash that skipped marking it complete.
        const st = await source.status(it.sourceUploadId);
        if (!st || st.size === undefined || st.offset !== st.size) {
          throw new CofferError('COFFER_ERR_SOURCE_GONE', 'the source upload is not complete');
        }
      }
      if (num(up.size) !== it.objectLength) {
        throw new CofferError('COFFER_ERR_SOURCE_LENGTH', 'the source upload has another length', {
          details: { actual: num(up.size) },
        });
      }
      valid.push(i);
    } catch (err) {
      results[i] = failed(it.mediaId, err);
    }
  }
  // Quota, in request order: an item that would pass it is refused, later smaller ones may still fit.
  const quota = levelConfig(ctx, level).mediaBytes;
  const lengths = new Map<string, number>();
  let used = 0;
  if (valid.length) {
    used = (await mediaUsage(ctx, idHash)).usedBytes;
    const priors = await ctx.db
      .selectFrom('media')
      .select(['media_id', 'object_length'])
      .where('backup_id_hash', '=', idHash)
      .where('media_id', 'in', mediaIds)
      .execute();
    for (const p of priors) lengths.set(p.media_id, num(p.object_length));
  }
  const accepted: number[] = [];
  for (const i of valid) {
    const it = items[i] as StoreMediaItem;
    const next = used - (lengths.get(it.mediaId) ?? 0) + it.objectLength;
    if (next > quota) {
      results[i] = failed(
        it.mediaId,
        new CofferError('COFFER_ERR_QUOTA_EXCEEDED', 'the media quota is used up; delete media first', {
          details: { quotaBytes: quota, usedBytes: used },
        }),
      );
      continue;
    }
    used = next;
    lengths.set(it.mediaId, it.objectLength);
    accepted.push(i);
  }
  // Blobs first (a few at a time: each waits on its own fsync), then one transaction.
  const stored: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(8, accepted.length) }, async () => {
      while (next < accepted.length) {
        const i = accepted[next++] as number;
        const it = items[i] as StoreMediaItem;
        try {
          await putUpload(
            ctx,
            source,
            it.sourceUploadId,
            mediaBlobKey(backup.media_dir, it.mediaId),
            it.objectLength,
          );
          stored.push(i);
        } catch (err) {
          results[i] = failed(it.mediaId, err);
        }
      }
    }),
  );
  if (stored.length) {
    stored.sort((a, b) => a - b);
    const now = ctx.now();
    // Last item wins when one media id appears twice (its blob was written last only by chance, but
    // both items carry the same object for one id: spec 5.2 derives the id from the content).
    const rows = new Map<string, StoreMediaItem>();
    for (const i of stored) rows.set((items[i] as StoreMediaItem).mediaId, items[i] as StoreMediaItem);
    await ctx.db.transaction().execute(async (trx) => {
      await trx
        .deleteFrom('media')
        .where('backup_id_hash', '=', idHash)
        .where('media_id', 'in', [...rows.keys()])
        .execute();
      await trx
        .insertInto('media')
        .values(
          [...rows.values()].map((it) => ({
            backup_id_hash: idHash,
            media_id: it.mediaId,
            object_length: it.objectLength,
            created_at: now,
          })),
        )
        .execute();
      await trx
        .updateTable('uploads')
        .set({ state: 'committed' })
        .where(
          'upload_id',
          'in',
          stored.map((i) => (items[i] as StoreMediaItem).sourceUploadId),
        )
        .execute();
    });
    for (const i of stored) {
      const it = items[i] as StoreMediaItem;
      results[i] = { mediaId: it.mediaId, status: 200, objectLength: it.objectLength };
    }
    for (const i of stored) await source.remove((items[i] as StoreMediaItem).sourceUploadId).catch(() => {});
  }
  return results.map((r, i) => r ?? failed((items[i] as StoreMediaItem).mediaId, undefined));
}

export async function listMedia(
  ctx: ServerContext,
  backup: BackupsTable,
  cursor: string | undefined,
  limit: number,
) {
  let q = ctx.db
    .selectFrom('media')
    .select(['media_id', 'object_length'])
    .where('backup_id_hash', '=', backup.backup_id_hash)
    .orderBy('media_id')
    .limit(limit + 1);
  if (cursor) q = q.where('media_id', '>', cursor);
  const rows = await q.execute();
  const page = rows.slice(0, limit);
  return {
    storedMediaObjects: page.map((r) => ({ mediaId: r.media_id, objectLength: num(r.object_length) })),
    backupDir: backup.backup_dir,
    mediaDir: backup.media_dir,
    ...(rows.length > limit ? { cursor: page[page.length - 1]?.media_id as string } : {}),
  };
}

export async function deleteMedia(
  ctx: ServerContext,
  backup: BackupsTable,
  mediaIds: string[],
): Promise<void> {
  await ctx.db
    .deleteFrom('media')
    .where('backup_id_hash', '=', backup.backup_id_hash)
    .where('media_id', 'in', mediaIds)
    .execute();
  for (const id of mediaIds) await ctx.blobs.delete(mediaBlobKey(backup.media_dir, id));
}

/** Blob key of a backup version (`messageBackup` = current) in a backup dir, for the read endpoint. */
export async function resolveBackupBlob(
  ctx: ServerContext,
  backupDir: string,
  name: string,
  version: string | undefined,
) {
  const backup = await ctx.db
    .selectFrom('backups')
    .selectAll()
    .where('backup_dir', '=', backupDir)
    .executeTakeFirst();
  if (!backup) throw new CofferError('COFFER_ERR_NO_BACKUP', 'no backup in this directory');
  if (name !== BACKUP_NAME) throw new CofferError('COFFER_ERR_NOT_FOUND', 'unknown backup name');
  const versionId = version ?? backup.current_version_id;
  if (!versionId) throw new CofferError('COFFER_ERR_NO_BACKUP', 'no committed backup yet');
  const v = await ctx.db
    .selectFrom('backup_versions')
    .select(['blob_key', 'created_at'])
    .where('version_id', '=', versionId)
    .where('backup_id_hash', '=', backup.backup_id_hash)
    .executeTakeFirst();
  if (!v) throw new CofferError('COFFER_ERR_VERSION_NOT_FOUND', 'no backup version with this id');
  return { blobKey: v.blob_key, modifiedAt: num(v.created_at) };
}

export async function resolveMediaBlob(ctx: ServerContext, mediaDir: string, mediaId: string) {
  const backup = await ctx.db
    .selectFrom('backups')
    .select(['backup_id_hash'])
    .where('media_dir', '=', mediaDir)
    .executeTakeFirst();
  const row =
    backup &&
    (await ctx.db
      .selectFrom('media')
      .select(['object_length'])
      .where('backup_id_hash', '=', backup.backup_id_hash)
      .where('media_id', '=', mediaId)
      .executeTakeFirst());
  if (!row) throw new CofferError('COFFER_ERR_BLOB_NOT_FOUND', 'no such media object');
  return { blobKey: mediaBlobKey(mediaDir, mediaId) };
}
