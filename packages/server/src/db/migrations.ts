/**
 * The one set of migrations for every dialect (Kysely schema builder only; no dialect-specific SQL).
 * Append new migrations; never edit a released one. Kysely's Migrator takes a lock, so several
 * processes may run them at once.
 */
import { type Kysely, type Migration, type MigrationProvider, Migrator } from 'kysely';

const m0001: Migration = {
  // biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('settings')
      .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('accounts')
      .addColumn('aci', 'varchar(36)', (c) => c.primaryKey())
      .addColumn('identifier_hash', 'varchar(64)', (c) => c.notNull().unique())
      .addColumn('level', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('devices')
      .addColumn('device_id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('aci', 'varchar(36)', (c) => c.notNull())
      .addColumn('secret_hash', 'varchar(64)', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('devices_aci').on('devices').column('aci').execute();
    await db.schema
      .createTable('verification_sessions')
      .addColumn('session_id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('identifier_hash', 'varchar(64)', (c) => c.notNull())
      .addColumn('code_hash', 'varchar(64)', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('verification_sessions_expires')
      .on('verification_sessions')
      .column('expires_at')
      .execute();
    await db.schema
      .createTable('rate_limits')
      .addColumn('bucket', 'varchar(128)', (c) => c.primaryKey())
      .addColumn('window_start', 'bigint', (c) => c.notNull())
      .addColumn('count', 'integer', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('credential_keys')
      .addColumn('redemption_time', 'bigint', (c) => c.notNull())
      .addColumn('level', 'integer', (c) => c.notNull())
      .addColumn('type', 'integer', (c) => c.notNull())
      .addColumn('private_key', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('credential_keys_pk', ['redemption_time', 'level', 'type'])
      .execute();
    await db.schema
      .createTable('credential_issuance')
      .addColumn('aci', 'varchar(36)', (c) => c.notNull())
      .addColumn('day', 'bigint', (c) => c.notNull())
      .addColumn('count', 'integer', (c) => c.notNull())
      .addPrimaryKeyConstraint('credential_issuance_pk', ['aci', 'day'])
      .execute();
    await db.schema
      .createTable('seen_signatures')
      .addColumn('signature_hash', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('seen_signatures_expires')
      .on('seen_signatures')
      .column('expires_at')
      .execute();
    await db.schema
      .createTable('backups')
      .addColumn('backup_id_hash', 'varchar(32)', (c) => c.primaryKey())
      .addColumn('public_key', 'varchar(64)', (c) => c.notNull())
      .addColumn('backup_dir', 'varchar(32)', (c) => c.notNull().unique())
      .addColumn('media_dir', 'varchar(32)', (c) => c.notNull().unique())
      .addColumn('current_version_id', 'varchar(64)')
      .addColumn('last_refresh', 'bigint', (c) => c.notNull())
      .addColumn('last_media_refresh', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('backup_versions')
      .addColumn('version_id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('backup_id_hash', 'varchar(32)', (c) => c.notNull())
      .addColumn('blob_key', 'varchar(512)', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('backup_versions_backup')
      .on('backup_versions')
      .column('backup_id_hash')
      .execute();
    await db.schema
      .createTable('uploads')
      .addColumn('upload_id', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('backup_id_hash', 'varchar(32)', (c) => c.notNull())
      .addColumn('kind', 'varchar(16)', (c) => c.notNull())
      .addColumn('max_length', 'bigint', (c) => c.notNull())
      .addColumn('state', 'varchar(16)', (c) => c.notNull())
      .addColumn('size', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('uploads_backup').on('uploads').column('backup_id_hash').execute();
    await db.schema.createIndex('uploads_expires').on('uploads').column('expires_at').execute();
    await db.schema
      .createTable('media')
      .addColumn('backup_id_hash', 'varchar(32)', (c) => c.notNull())
      .addColumn('media_id', 'varchar(32)', (c) => c.notNull())
      .addColumn('object_length', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('media_pk', ['backup_id_hash', 'media_id'])
      .execute();
  },
};

/**
 * Media usage (quota check of every media store step, GET /media/usage, GET /archives) sums
 * object_length over a backup's rows: with this index the sum reads only the index, not every row
 * (measured: 300,000 objects 619 ms -> 35 ms on SQLite).
 */
const m0002: Migration = {
  // biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed schema exists
  async up(db: Kysely<any>) {
    await db.schema
      .createIndex('media_usage')
      .on('media')
      .columns(['backup_id_hash', 'object_length'])
      .execute();
  },
};

export const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_media_usage_index': m0002,
};

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS };

/** Brings the schema up to date; throws if a migration fails. */
// biome-ignore lint/suspicious/noExplicitAny: the migrator works on any database type
export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed`, { cause: error });
  }
}
