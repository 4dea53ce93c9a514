/**
 * Metadata-store conformance: the server's own migrations and repository functions, unchanged,
 * against every database driver (SQLite embedded, PostgreSQL scale-out). "Two processes" are two
 * independent handles on the same database (two SQLite connections to one file, two pg pools), and
 * for migrations, real child processes.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createPgSchema } from '../../../../test-support/services.ts';
import * as archives from '../../src/archives/service.ts';
import { defaultConfig } from '../../src/config.ts';
import type { ServerContext } from '../../src/context.ts';
import { createDb, type Db } from '../../src/db/create-db.ts';
import { MIGRATIONS, migrateToLatest } from '../../src/db/migrations.ts';
import { num } from '../../src/db/schema.ts';
import { FileBlobStore } from '../../src/storage/file-blob-store.ts';
import { hitRateLimit } from '../../src/util/rate-limit.ts';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));

interface Target {
  url: string;
  cleanup(): Promise<void>;
}

const drivers: { name: string; dialect: 'sqlite' | 'postgres'; make(): Promise<Target> }[] = [
  {
    name: 'sqlite',
    dialect: 'sqlite',
    async make() {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'coffer-conf-db-'));
      return {
        url: `sqlite:${path.join(dir, 'coffer.db')}`,
        cleanup: () => fs.rm(dir, { recursive: true, force: true }),
      };
    },
  },
  {
    name: 'postgres',
    dialect: 'postgres',
    async make() {
      const s = await createPgSchema('meta');
      return { url: s.url, cleanup: s.drop };
    },
  },
];

const TABLES = [
  'accounts',
  'backup_versions',
  'backups',
  'credential_issuance',
  'credential_keys',
  'devices',
  'media',
  'rate_limits',
  'seen_signatures',
  'settings',
  'uploads',
  'verification_sessions',
];

async function codeOrMessage(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code ?? (err as Error).message;
  }
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  // PostgreSQL SQLSTATE 23505; SQLite SQLITE_CONSTRAINT_UNIQUE / _PRIMARYKEY.
  return e.code === '23505' || /UNIQUE constraint failed/.test(e.message ?? '');
}

async function* bytesOf(b: Uint8Array): AsyncIterable<Uint8Array> {
  yield b;
}

describe.each(drivers)('metadata store conformance: $name', (driver) => {
  let target: Target;
  let blobDir: string;
  const open: Db[] = [];

  async function openDb(): Promise<Db> {
    const db = await createDb(target.url);
    open.push(db);
    return db;
  }

  function context(db: Db, blobs: FileBlobStore): ServerContext {
    const noop = () => {};
    return {
      config: { ...defaultConfig(blobDir), versionsKept: 3 },
      db: db.db,
      blobs,
      secret: 'test-secret',
      now: Date.now,
      log: { info: noop, warn: noop, error: noop },
    };
  }

  beforeEach(async () => {
    target = await driver.make();
    blobDir = await fs.mkdtemp(path.join(os.tmpdir(), 'coffer-conf-meta-blobs-'));
  });
  afterEach(async () => {
    for (const db of open.splice(0)) await db.close();
    await target.cleanup();
    await fs.rm(blobDir, { recursive: true, force: true });
  });

  it('migrates to the full schema once; running again changes nothing', async () => {
    const db = await openDb();
    expect(db.dialect).toBe(driver.dialect);
    const tables = (await db.db.introspection.getTables()).map((t) => t.name).sort();
    expect(tables).toEqual(TABLES);
    await migrateToLatest(db.db);
    const done = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db.db);
    expect(done.rows.map((r) => r.name)).toEqual(Object.keys(MIGRATIONS).sort());
  });

  it('runs the migrations from several processes at once without error or double application', async () => {
    const startAt = Date.now() + 2500;
    const script = path.join(here, 'fixtures/migrate-once.ts');
    const outs = await Promise.all(
      Array.from({ length: 4 }, () =>
        run(process.execPath, ['--import', 'tsx', script, target.url, String(startAt)], { timeout: 60_000 }),
      ),
    );
    expect(outs.map((o) => o.stdout.trim())).toEqual(['ok 0', 'ok 0', 'ok 0', 'ok 0']);
    const db = await openDb();
    const done = await sql<{ name: string }>`select name from kysely_migration`.execute(db.db);
    expect(done.rows.map((r) => r.name)).toEqual(Object.keys(MIGRATIONS));
  });

  it('enforces unique constraints and primary keys', async () => {
    const db = await openDb();
    const account = { identifier_hash: 'h'.repeat(64), level: 200, created_at: 1 };
    await db.db
      .insertInto('accounts')
      .values({ aci: 'a1', ...account })
      .execute();
    expect(
      isUniqueViolation(
        await db.db
          .insertInto('accounts')
          .values({ aci: 'a2', ...account })
          .execute()
          .catch((e) => e),
      ),
    ).toBe(true);
    const backup = (hash: string, dir: string, media: string) => ({
      backup_id_hash: hash,
      public_key: 'pk',
      backup_dir: dir,
      media_dir: media,
      current_version_id: null,
      last_refresh: 0,
      last_media_refresh: 0,
      created_at: 0,
    });
    await db.db
      .insertInto('backups')
      .values(backup('b1', 'dir1', 'media1'))
      .execute();
    for (const dup of [
      backup('b1', 'dir9', 'media9'),
      backup('b2', 'dir1', 'media2'),
      backup('b3', 'dir3', 'media1'),
    ]) {
      expect(
        isUniqueViolation(
          await db.db
            .insertInto('backups')
            .values(dup)
            .execute()
            .catch((e) => e),
        ),
      ).toBe(true);
    }
    const media = { backup_id_hash: 'b1', media_id: 'm1', object_length: 10, created_at: 0 };
    await db.db.insertInto('media').values(media).execute();
    expect(
      isUniqueViolation(
        await db.db
          .insertInto('media')
          .values(media)
          .execute()
          .catch((e) => e),
      ),
    ).toBe(true);
    // Nothing half-inserted: still one account, one backup, one media row.
    const counts = await Promise.all(
      (['accounts', 'backups', 'media'] as const).map((t) =>
        db.db
          .selectFrom(t)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow(),
      ),
    );
    expect(counts.map((c) => num(c.n as number))).toEqual([1, 1, 1]);
  });

  it('rolls a failed transaction back completely', async () => {
    const db = await openDb();
    await expect(
      db.db.transaction().execute(async (trx) => {
        await trx.insertInto('settings').values({ name: 'x', value: '1' }).execute();
        await trx.insertInto('settings').values({ name: 'x', value: '2' }).execute();
      }),
    ).rejects.toSatisfy(isUniqueViolation);
    expect(await db.db.selectFrom('settings').selectAll().execute()).toEqual([]);
  });

  it('keeps 64-bit sizes and millisecond times exact', async () => {
    const db = await openDb();
    const big = 5 * 1024 ** 4 + 7; // 5 TiB + 7: beyond 32 bits, below 2^53
    await db.db
      .insertInto('backup_versions')
      .values({
        version_id: 'v',
        backup_id_hash: 'b',
        blob_key: 'k',
        size: big,
        created_at: 1_764_000_000_123,
      })
      .execute();
    const row = await db.db.selectFrom('backup_versions').selectAll().executeTakeFirstOrThrow();
    expect(num(row.size)).toBe(big);
    expect(num(row.created_at)).toBe(1_764_000_000_123);
    const sum = await db.db
      .selectFrom('backup_versions')
      .select((eb) => eb.fn.sum<number>('size').as('s'))
      .executeTakeFirstOrThrow();
    expect(num(sum.s)).toBe(big);
  });

  it('two handles racing to make a backup current: every commit lands once, current is one of them', async () => {
    const [h1, h2] = [await openDb(), await openDb()];
    const blobs = new FileBlobStore(path.join(blobDir, 'blobs'));
    const c1 = context(h1, blobs);
    const c2 = context(h2, blobs);
    const idHash = randomBytes(16).toString('hex');
    await archives.setPublicKey(c1, idHash, undefined, Uint8Array.from([5, ...randomBytes(32)]), 200);
    const payloads = new Map<string, Uint8Array>();
    const uploads: string[] = [];
    for (let i = 0; i < 4; i++) {
      const form = await archives.createUploadForm(c1, idHash, 'messages', 1000, 'http://x');
      await h1.db
        .updateTable('uploads')
        .set({ state: 'created', size: 100 + i })
        .where('upload_id', '=', form.uploadId)
        .execute();
      payloads.set(form.uploadId, randomBytes(100 + i));
      uploads.push(form.uploadId);
    }
    const source: archives.UploadSource = {
      read: (id) => bytesOf(payloads.get(id)!),
      remove: async () => {},
      status: async (id) => ({ size: payloads.get(id)!.length, offset: payloads.get(id)!.length }),
    };
    // Every upload committed twice at once, once through each handle ("two processes").
    await Promise.all(
      uploads.flatMap((id) => [
        archives.commitMessagesUpload(c1, source, id, payloads.get(id)!.length),
        archives.commitMessagesUpload(c2, source, id, payloads.get(id)!.length),
      ]),
    );
    const versions = await h1.db
      .selectFrom('backup_versions')
      .selectAll()
      .where('backup_id_hash', '=', idHash)
      .execute();
    // versionsKept = 3: four commits, the oldest pruned; no duplicate version from the double commits.
    expect(versions.length).toBe(3);
    const backup = await h2.db
      .selectFrom('backups')
      .selectAll()
      .where('backup_id_hash', '=', idHash)
      .executeTakeFirstOrThrow();
    const current = versions.find((v) => v.version_id === backup.current_version_id);
    expect(current).toBeDefined();
    // Commit order is total: no two versions share a sequence number, and the current one is last.
    const seqs = versions.map((v) => num(v.seq));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(num(current!.seq)).toBe(Math.max(...seqs));
    const states = await h1.db
      .selectFrom('uploads')
      .select('state')
      .where('backup_id_hash', '=', idHash)
      .execute();
    expect(states.map((s) => s.state)).toEqual(['committed', 'committed', 'committed', 'committed']);
    // Each kept version's blob holds exactly the bytes of one upload; losers' blobs were removed.
    const stored: string[] = [];
    for await (const e of blobs.list(`backups/${backup.backup_dir}/`)) stored.push(e.key);
    expect(stored.sort()).toEqual(versions.map((v) => v.blob_key).sort());
    const sizes = new Set([...payloads.values()].map((p) => p.length));
    for (const v of versions) expect(sizes.has(num(v.size))).toBe(true);
  });

  it('rate limits and replay guards hold across handles (no lost or doubled writes)', async () => {
    const [h1, h2] = [await openDb(), await openDb()];
    const now = Date.now();
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => hitRateLimit(i % 2 ? h1.db : h2.db, 'ip:1', 20, 60_000, now)),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const limited = results.filter(
      (r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'COFFER_ERR_RATE_LIMITED',
    ).length;
    expect(ok + limited).toBe(30);
    expect(ok).toBeLessThanOrEqual(20);
    expect(ok).toBe(20);
    const row = await h1.db
      .selectFrom('rate_limits')
      .selectAll()
      .where('bucket', '=', 'ip:1')
      .executeTakeFirstOrThrow();
    expect(row.count).toBe(ok);

    // The replay store: one signature hash accepted once, whichever handle sees it first.
    const inserts = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? h1 : h2).db
          .insertInto('seen_signatures')
          .values({ signature_hash: 'sig', expires_at: now + 1000 })
          .onConflict((oc) => oc.column('signature_hash').doNothing())
          .executeTakeFirst(),
      ),
    );
    expect(inserts.filter((r) => Number(r.numInsertedOrUpdatedRows ?? 0n) === 1).length).toBe(1);
    expect(
      await codeOrMessage(h1.db.selectFrom('seen_signatures').selectAll().executeTakeFirstOrThrow()),
    ).toBeUndefined();
  });
});
