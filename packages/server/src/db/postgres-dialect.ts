/**
 * PostgreSQL for the metadata store (scale-out): the `postgres://` seam of create-db.ts.
 *
 *   postgres://USER:PASSWORD@HOST:5432/DB?max=20&options=-c%20search_path%3Dcoffer
 *
 * npm `pg` Pool; `max` (pool size, default 10) is ours and removed before pg sees the URL; every
 * other parameter is libpq's (sslmode, options, application_name...). The password may also come
 * from PGPASSWORD, which pg reads itself. Use `redactUrl` (storage/blob-store-factory.ts) to print one.
 *
 * Two adjustments make the one set of Kysely migrations safe to run from many processes, and in any
 * schema (migrations.ts stays dialect-free):
 * - Migration lock: Kysely already takes a session advisory lock around the run, but with one fixed
 *   id for the whole database and only after creating its bookkeeping tables. Ours is keyed by the
 *   current schema, so deployments (and test suites) in different schemas of one database do not
 *   wait for each other, while processes of one deployment run migrations strictly one at a time.
 * - Introspection: Kysely's migrator checks "does kysely_migration exist" across EVERY schema of the
 *   database, then queries it unqualified. With a second deployment (or a test) in another schema,
 *   it would find that schema's table and fail. Ours reports only the schemas on the search path,
 *   which is what unqualified names resolve to.
 */

import { CofferError } from '@coffer/crypto';
import {
  type DatabaseIntrospector,
  type DatabaseMetadataOptions,
  type DialectAdapter,
  type Kysely,
  type MigrationLockOptions,
  PostgresAdapter,
  PostgresDialect,
  PostgresIntrospector,
  sql,
  type TableMetadata,
} from 'kysely';
import pg from 'pg';

// int8 (bigint) arrives as a string by default; the schema reads numbers through num(), and every
// value we store (ms timestamps, byte counts) is far below 2^53. Kept as the driver default.

export interface PostgresPoolOptions {
  /** Pool size (default 10, or `max` in the URL). */
  max?: number;
}

/** Splits our own parameters off a postgres URL and returns pg's pool config. */
export function postgresPoolConfig(url: string, opts: PostgresPoolOptions = {}): pg.PoolConfig {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new CofferError(
      'COFFER_ERR_CONFIG',
      'the database URL does not parse: postgres://USER@HOST:PORT/DB',
    );
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new CofferError('COFFER_ERR_CONFIG', 'the database URL must start with postgres://');
  }
  let max = opts.max ?? 10;
  const maxParam = u.searchParams.get('max');
  if (maxParam !== null) {
    max = Number(maxParam);
    u.searchParams.delete('max');
  }
  if (!Number.isSafeInteger(max) || max < 1 || max > 1000) {
    throw new CofferError(
      'COFFER_ERR_CONFIG',
      'the database pool size (max) must be an integer from 1 to 1000',
    );
  }
  if (!u.searchParams.has('application_name')) u.searchParams.set('application_name', 'coffer');
  return {
    connectionString: u.toString(),
    max,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  };
}

/** The Kysely dialect create-db.ts uses for `postgres://` URLs. */
export function createPostgresDialect(url: string, opts: PostgresPoolOptions = {}): PostgresDialect {
  const pool = new pg.Pool(postgresPoolConfig(url, opts));
  // An idle client can die (server restart, network): pg emits 'error' on the pool, which would
  // crash the process if unhandled. The pool drops that client; the next query opens a new one.
  pool.on('error', () => {});
  // A client that is checked out (inside a query or transaction) has no pool listener: its 'error'
  // would be an uncaught exception and kill the server when PostgreSQL drops mid-request (found by
  // test/reliability/network.test.ts). The failure still reaches the query as a rejection.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  const dialect = new CofferPostgresDialect({ pool });
  // Back-pressure (http/back-pressure.ts) sheds requests while too many queries wait for a connection.
  dialect.waiting = () => pool.waitingCount;
  return dialect;
}

class CofferPostgresDialect extends PostgresDialect {
  waiting?: () => number;

  override createAdapter(): DialectAdapter {
    return new SchemaLockAdapter();
  }

  override createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SearchPathIntrospector(db);
  }
}

/** Advisory-lock key for the migrations of the current schema (64-bit hash of a fixed label + schema). */
const LOCK_KEY = sql`hashtextextended('coffer:migrations:' || current_schema(), 0)`;

class SchemaLockAdapter extends PostgresAdapter {
  override async acquireMigrationLock(db: Kysely<unknown>, _opts: MigrationLockOptions): Promise<void> {
    // Session-level: held across the migration transaction, released explicitly (or when the
    // session ends, e.g. if the process dies mid-migration, so a crash never leaves it locked).
    await sql`select pg_advisory_lock(${LOCK_KEY})`.execute(db);
  }

  override async releaseMigrationLock(db: Kysely<unknown>, _opts: MigrationLockOptions): Promise<void> {
    await sql`select pg_advisory_unlock(${LOCK_KEY})`.execute(db);
  }
}

class SearchPathIntrospector extends PostgresIntrospector {
  readonly #db: Kysely<unknown>;

  constructor(db: Kysely<unknown>) {
    super(db);
    this.#db = db;
  }

  override async getTables(options?: DatabaseMetadataOptions): Promise<TableMetadata[]> {
    const tables = await super.getTables(options);
    const { rows } = await sql<{
      schemas: string[];
    }>`select current_schemas(false)::text[] as schemas`.execute(this.#db);
    const visible = new Set(rows[0]?.schemas ?? []);
    return tables.filter((t) => t.schema !== undefined && visible.has(t.schema));
  }
}
