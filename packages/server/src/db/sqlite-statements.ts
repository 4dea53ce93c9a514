/**
 * Prepared-statement cache for the embedded database. Kysely's SQLite driver calls `prepare(sql)`
 * for every query, and better-sqlite3 compiles a fresh statement each time (then the garbage
 * collector finalises it): on the request hot path that compile was the largest cost of a
 * device-authenticated request after the socket writes. Kysely emits the same SQL text for the same
 * query shape (values are bound parameters), so statements are kept by their text, least recently
 * used dropped beyond `max`. A statement is only ever used synchronously (`all`/`run`; the server
 * does not stream queries), so sharing one between requests is safe. SQLite re-prepares a cached
 * statement by itself after a schema change (migrations).
 */
import type { SqliteDatabase, SqliteStatement } from 'kysely';

export function cachedStatements(
  db: { prepare(sql: string): SqliteStatement; close(): unknown },
  max = 256,
): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  return {
    prepare(sql: string): SqliteStatement {
      const hit = cache.get(sql);
      if (hit) {
        cache.delete(sql); // re-insert: Map order is the recency order
        cache.set(sql, hit);
        return hit;
      }
      const stmt = db.prepare(sql);
      cache.set(sql, stmt);
      if (cache.size > max) cache.delete(cache.keys().next().value as string);
      return stmt;
    },
    close() {
      cache.clear();
      db.close();
    },
  };
}
