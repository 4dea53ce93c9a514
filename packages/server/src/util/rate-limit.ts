/**
 * Fixed-window counters in the metadata database, so limits hold across restarts and across several
 * server processes. Two portable statements, no read-modify-write race: an increment guarded by
 * the window and the limit, else an upsert that only resets an expired window.
 */
import { CofferError } from '@coffer/crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

export async function hitRateLimit(
  db: Kysely<Database>,
  bucket: string,
  limit: number,
  windowMs: number,
  nowMs: number,
): Promise<void> {
  const cutoff = nowMs - windowMs;
  const increment = async () => {
    const inc = await db
      .updateTable('rate_limits')
      .set((eb) => ({ count: eb('count', '+', 1) }))
      .where('bucket', '=', bucket)
      .where('window_start', '>', cutoff)
      .where('count', '<', limit)
      .executeTakeFirst();
    return Number(inc.numUpdatedRows) === 1;
  };
  if (await increment()) return;
  const ins = await db
    .insertInto('rate_limits')
    .values({ bucket, window_start: nowMs, count: 1 })
    .onConflict((oc) =>
      oc
        .column('bucket')
        .doUpdateSet({ window_start: nowMs, count: 1 })
        .where('rate_limits.window_start', '<=', cutoff),
    )
    .executeTakeFirst();
  if (Number(ins.numInsertedOrUpdatedRows ?? 0n) >= 1) return;
  // Another process created the row for this window between our two statements: count in it.
  if (await increment()) return;
  const row = await db
    .selectFrom('rate_limits')
    .select('window_start')
    .where('bucket', '=', bucket)
    .executeTakeFirst();
  const retryAfterSeconds = Math.max(
    1,
    Math.ceil((Number(row?.window_start ?? nowMs) + windowMs - nowMs) / 1000),
  );
  throw new CofferError('COFFER_ERR_RATE_LIMITED', 'too many requests; retry later', {
    details: { retryAfterSeconds },
  });
}
