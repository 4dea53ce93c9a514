/**
 * The replay store: every accepted request signature is remembered until its timestamp window has
 * passed, and a signature seen before is refused (docs/spec/api.md, section 4, step 8).
 *
 * PostgreSQL (several processes share the state): one INSERT ... ON CONFLICT DO NOTHING per request,
 * whose row count answers "new or seen" atomically across processes; the commit's fsync happens in
 * the database, off Node's thread.
 *
 * SQLite (embedded: one server process per data folder, lock-file.ts). better-sqlite3 runs on the
 * event loop's thread, so a row written per request stalled every request in flight: with
 * synchronous = FULL each insert waited for an fsync of the WAL (5-40 ms on the shared VM), and even
 * without the fsync a one-row commit appends about 15 KB of WAL pages whose write() stalls for
 * 10-200 ms whenever the disk is busy (about 2 % of inserts there), plus a checkpoint every few
 * hundred inserts. Here an accepted signature is first kept in memory and written with the others
 * of the last FLUSH_INTERVAL_MS in one transaction; a signature is new when it is neither in memory
 * nor in the table (a primary-key read, no disk write). Check and insert into memory happen in one
 * synchronous step, so two copies of one request arriving together cannot both pass. Closing the
 * database writes what is pending (a graceful restart keeps every row). What is given up: if the
 * process is killed, or the machine loses power, the signatures accepted in the last
 * FLUSH_INTERVAL_MS are forgotten, so a request captured in that instant could be replayed after
 * the restart within its 5-minute window (docs/security.md).
 */
import { type Kysely, SqliteAdapter, sql } from 'kysely';
import type { Database } from './schema.ts';

/** How long an accepted signature may stay only in memory (embedded store). */
export const FLUSH_INTERVAL_MS = 100;
/** Rows per INSERT statement (SQLite allows 32,766 bound values; two per row). */
const ROWS_PER_INSERT = 500;

interface SqliteReplayState {
  /** Accepted signatures not yet committed to the table (pending or being written): hash -> expiry. */
  unwritten: Map<string, number>;
  timer: NodeJS.Timeout | undefined;
  flushing: Promise<void> | undefined;
}

const states = new WeakMap<Kysely<Database>, SqliteReplayState>();
const isSqlite = (db: Kysely<Database>) => db.getExecutor().adapter instanceof SqliteAdapter;

/** Records `signatureHash` until `expiresAt` (ms); false when it was recorded before (a replay). */
export async function rememberSignature(
  db: Kysely<Database>,
  signatureHash: string,
  expiresAt: number,
): Promise<boolean> {
  if (!isSqlite(db)) {
    const res = await db
      .insertInto('seen_signatures')
      .values({ signature_hash: signatureHash, expires_at: expiresAt })
      .onConflict((oc) => oc.column('signature_hash').doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0n) > 0;
  }
  let st = states.get(db);
  if (!st) {
    st = { unwritten: new Map(), timer: undefined, flushing: undefined };
    states.set(db, st);
  }
  if (st.unwritten.has(signatureHash)) return false;
  // Claim it before the first await: a concurrent copy of this request now sees it in memory.
  st.unwritten.set(signatureHash, expiresAt);
  const stored = await db
    .selectFrom('seen_signatures')
    .select('signature_hash')
    .where('signature_hash', '=', signatureHash)
    .executeTakeFirst();
  if (stored) {
    st.unwritten.delete(signatureHash); // a replay of a signature accepted before (this or an earlier process)
    return false;
  }
  schedule(db, st);
  return true;
}

function schedule(db: Kysely<Database>, st: SqliteReplayState): void {
  if (st.timer || st.flushing) return;
  st.timer = setTimeout(() => {
    st.timer = undefined;
    void flushReplayStore(db).catch(() => schedule(db, st)); // kept in memory; retried
  }, FLUSH_INTERVAL_MS);
  st.timer.unref();
}

/**
 * Writes the accepted signatures still held in memory (embedded store; a no-op otherwise). Called by
 * the flush timer and by `Db.close()` before the database closes.
 */
export async function flushReplayStore(db: Kysely<Database>): Promise<void> {
  const st = states.get(db);
  if (!st) return;
  if (st.timer) {
    clearTimeout(st.timer);
    st.timer = undefined;
  }
  while (st.flushing) await st.flushing;
  if (st.unwritten.size === 0) return;
  const rows = [...st.unwritten].map(([signature_hash, expires_at]) => ({ signature_hash, expires_at }));
  st.flushing = (async () => {
    try {
      // synchronous = NORMAL for this commit only (the connection is held, so nothing else commits
      // in between): no fsync on the event loop's thread. The rows survive a crash of the process
      // from here on; the next FULL commit or checkpoint makes them durable against power loss.
      await db.connection().execute(async (conn) => {
        await sql`pragma synchronous = NORMAL`.execute(conn);
        try {
          await conn.transaction().execute(async (trx) => {
            for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
              await trx
                .insertInto('seen_signatures')
                .values(rows.slice(i, i + ROWS_PER_INSERT))
                .onConflict((oc) => oc.column('signature_hash').doNothing())
                .execute();
            }
          });
        } finally {
          await sql`pragma synchronous = FULL`.execute(conn);
        }
      });
      // Only now may they leave memory: a check between the two sees them in one place or the other.
      for (const r of rows) {
        if (st.unwritten.get(r.signature_hash) === r.expires_at) st.unwritten.delete(r.signature_hash);
      }
    } finally {
      st.flushing = undefined;
    }
  })();
  await st.flushing;
  if (st.unwritten.size > 0) schedule(db, st); // accepted while this batch was being written
}
