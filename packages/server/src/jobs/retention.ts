/**
 * Retention and garbage collection (spec 6.5, Coffer form), run on a timer and by tests directly:
 * - a backup not refreshed for `retention.idleDays` is deleted whole (rows, then blobs);
 * - media older than the free level's `mediaTtlDays` (45 by default) is dropped, unless the backup
 *   was refreshed with a credential of a level that keeps media (mediaTtlDays 0, i.e. paid) within
 *   that time: the level lives only in credentials, so `last_media_refresh` records the last such
 *   refresh (spec 6.5 sets it only for PAID);
 * - uploads past their token expiry that never committed are removed (tus file and row);
 * - blobs that no row references (a crash between blob and metadata) are deleted after a grace time;
 * - expired replay-store entries and old credential keys are purged.
 */
import { DAY_SECONDS, dayStart } from '@coffer/protocol';
import type { UploadSource } from '../archives/service.ts';
import type { ServerContext } from '../context.ts';
import { num } from '../db/schema.ts';

const DAY_MS = DAY_SECONDS * 1000;

export interface RetentionReport {
  backupsDeleted: number;
  mediaDropped: number;
  uploadsCollected: number;
  orphanBlobsDeleted: number;
}

export async function runRetention(ctx: ServerContext, source: UploadSource): Promise<RetentionReport> {
  const now = ctx.now();
  const report: RetentionReport = {
    backupsDeleted: 0,
    mediaDropped: 0,
    uploadsCollected: 0,
    orphanBlobsDeleted: 0,
  };

  // 1. idle backups
  const idleCutoff = dayStart(now) * 1000 - ctx.config.retention.idleDays * DAY_MS;
  const idle = await ctx.db
    .selectFrom('backups')
    .selectAll()
    .where('last_refresh', '<', idleCutoff)
    .execute();
  for (const b of idle) {
    await ctx.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('backup_versions').where('backup_id_hash', '=', b.backup_id_hash).execute();
      await trx.deleteFrom('media').where('backup_id_hash', '=', b.backup_id_hash).execute();
      await trx.deleteFrom('uploads').where('backup_id_hash', '=', b.backup_id_hash).execute();
      await trx.deleteFrom('backups').where('backup_id_hash', '=', b.backup_id_hash).execute();
    });
    await ctx.blobs.deletePrefix(`backups/${b.backup_dir}/`);
    await ctx.blobs.deletePrefix(`media/${b.media_dir}/`);
    report.backupsDeleted++;
  }

  // 2. free-tier media past its age
  const ttl = ctx.config.levels.free.mediaTtlDays;
  if (ttl > 0) {
    const cutoff = now - ttl * DAY_MS;
    const old = await ctx.db
      .selectFrom('media')
      .innerJoin('backups', 'backups.backup_id_hash', 'media.backup_id_hash')
      .select(['media.backup_id_hash', 'media.media_id', 'backups.media_dir', 'backups.last_media_refresh'])
      .where('media.created_at', '<', cutoff)
      .execute();
    for (const m of old) {
      if (num(m.last_media_refresh) >= cutoff) continue; // kept by a recent paid refresh
      await ctx.db
        .deleteFrom('media')
        .where('backup_id_hash', '=', m.backup_id_hash)
        .where('media_id', '=', m.media_id)
        .execute();
      await ctx.blobs.delete(`media/${m.media_dir}/${m.media_id}`);
      report.mediaDropped++;
    }
  }

  // 3. abandoned uploads
  const stale = await ctx.db
    .selectFrom('uploads')
    .select(['upload_id', 'state'])
    .where('expires_at', '<', now)
    .execute();
  for (const u of stale) {
    if (u.state !== 'committed') await source.remove(u.upload_id).catch(() => {});
    await ctx.db.deleteFrom('uploads').where('upload_id', '=', u.upload_id).execute();
    if (u.state !== 'committed') report.uploadsCollected++;
  }

  // 4. orphaned blobs
  report.orphanBlobsDeleted = await collectOrphanBlobs(ctx);

  // 5. housekeeping
  await ctx.db.deleteFrom('seen_signatures').where('expires_at', '<', now).execute();
  await ctx.db
    .deleteFrom('verification_sessions')
    .where('expires_at', '<', now - DAY_MS)
    .execute();
  await ctx.db
    .deleteFrom('credential_keys')
    .where('redemption_time', '<', dayStart(now) - 4 * DAY_SECONDS)
    .execute();
  await ctx.db
    .deleteFrom('credential_issuance')
    .where('day', '<', dayStart(now) - 2 * DAY_SECONDS)
    .execute();
  return report;
}

export async function collectOrphanBlobs(ctx: ServerContext): Promise<number> {
  const grace = ctx.config.uploads.orphanAfterMs;
  const now = ctx.now();
  let n = 0;
  for await (const e of ctx.blobs.list('backups/')) {
    const known = await ctx.db
      .selectFrom('backup_versions')
      .select('version_id')
      .where('blob_key', '=', e.key)
      .executeTakeFirst();
    if (known) continue;
    const st = await ctx.blobs.stat(e.key);
    if (st && now - st.modifiedAt.getTime() >= grace) {
      await ctx.blobs.delete(e.key);
      n++;
    }
  }
  for await (const e of ctx.blobs.list('media/')) {
    const [, dir, mediaId] = e.key.split('/');
    const known = await ctx.db
      .selectFrom('media')
      .innerJoin('backups', 'backups.backup_id_hash', 'media.backup_id_hash')
      .select('media.media_id')
      .where('backups.media_dir', '=', dir ?? '')
      .where('media.media_id', '=', mediaId ?? '')
      .executeTakeFirst();
    if (known) continue;
    const st = await ctx.blobs.stat(e.key);
    if (st && now - st.modifiedAt.getTime() >= grace) {
      await ctx.blobs.delete(e.key);
      n++;
    }
  }
  return n;
}
