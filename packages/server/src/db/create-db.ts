/**
 * Opens the metadata database named by a URL (CONTRACTS.md): `sqlite:./data/coffer.db` (embedded,
 * better-sqlite3 in WAL mode) or `postgres://...` (scale-out: ./postgres-dialect.ts exporting
 * `createPostgresDialect(url)`), then runs the migrations.
 */
import path from 'node:path';
import { CofferError } from '@coffer/crypto';
import SqliteDatabase from 'better-sqlite3';
import { type Dialect, Kysely, SqliteDialect } from 'kysely';
import { migrateToLatest } from './migrations.ts';
import { flushReplayStore } from './replay-store.ts';
import type { Database } from './schema.ts';
import { cachedStatements } from './sqlite-statements.ts';

export type DbDialectName = 'sqlite' | 'postgres';
export interface Db {
  db: Kysely<Database>;
  dialect: DbDialectName;
  close(): Promise<void>;
  /** Queries waiting for a pooled connection (PostgreSQL); absent for SQLite (no pool). */
  waiting?: () => number;
}

export async function createDb(url: string, opts: { baseDir?: string; migrate?: boolean } = {}): Promise<Db> {
  let dialect: Dialect;
  let name: DbDialectName;
  let sqliteFile: string | undefined;
  if (url.startsWith('sqlite:')) {
    const file = path.resolve(opts.baseDir ?? process.cwd(), url.slice('sqlite:'.length));
    sqliteFile = file;
    const sqlite = new SqliteDatabase(file);
    // WAL: readers never block the writer; FULL sync so a committed transaction survives power loss
    // (the replay store lowers it for its own batches and sets FULL again: ./replay-store.ts).
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('busy_timeout = 5000');
    dialect = new SqliteDialect({ database: cachedStatements(sqlite) });
    name = 'sqlite';
  } else if (url.startsWith('postgres:') || url.startsWith('postgresql:')) {
    // A literal specifier, loaded only here (pg stays unloaded on SQLite): the CLI bundle
    // (packages/cli/src/bundle.ts) splits it into its own chunk; a computed one was left as a
    // runtime import of a .ts file next to the bundle, which does not exist there.
    const mod = await import('./postgres-dialect.ts');
    dialect = mod.createPostgresDialect(url);
    name = 'postgres';
  } else {
    throw new CofferError('COFFER_ERR_CONFIG', 'the database URL must start with sqlite: or postgres:');
  }
  const db = new Kysely<Database>({ dialect });
  if (opts.migrate !== false) {
    try {
      await withSqliteMigrationLock(sqliteFile, () => migrateToLatest(db));
    } catch (err) {
      await db.destroy();
      throw err;
    }
  }
  const waiting = (dialect as { waiting?: () => number }).waiting;
  const close = async () => {
    await flushReplayStore(db).catch(() => undefined); // accepted signatures still in memory
    await db.destroy();
  };
  return { db, dialect: name, close, ...(waiting ? { waiting } : {}) };
}

/**
 * Kysely's migration lock is a no-op on SQLite, so two processes opening a new database at once (the
 * admin command while the server starts, several test processes) could both run a migration. An
 * exclusive transaction on a side file (`<db>.migrate-lock`) serialises them across processes;
 * PostgreSQL uses Kysely's own advisory lock.
 */
async function withSqliteMigrationLock(file: string | undefined, run: () => Promise<void>): Promise<void> {
  if (!file || file === ':memory:') return run();
  const lock = new SqliteDatabase(`${file}.migrate-lock`);
  try {
    lock.pragma('busy_timeout = 60000');
    lock.exec('BEGIN EXCLUSIVE');
    try {
      await run();
    } finally {
      lock.exec('COMMIT');
    }
  } finally {
    lock.close();
  }
}
