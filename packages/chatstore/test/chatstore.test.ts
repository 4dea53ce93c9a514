import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasErrorCode } from '@coffer/crypto';
import { type BackupInfo, type Frame, validateBackup, writeBackup } from '@coffer/format';
import { afterEach, describe, expect, it } from 'vitest';
import { generateIntoStore, SqliteChatStore } from '../src/index.ts';

const dirs: string[] = [];
const stores: SqliteChatStore[] = [];
async function freshStore(): Promise<SqliteChatStore> {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-chatstore-'));
  dirs.push(dir);
  const s = await SqliteChatStore.open(dir);
  stores.push(s);
  return s;
}
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const small = { chats: 6, messages: 3000, media: 12, seed: 'test-seed', mediaSize: 2048 };

async function copyViaFrames(from: SqliteChatStore, to: SqliteChatStore): Promise<void> {
  const imp = await to.beginImport();
  for await (const f of from.exportFrames()) await imp.addFrame(f);
  await imp.commit();
}

function info(): BackupInfo {
  return {
    version: 1n,
    backupTimeMs: BigInt(Date.UTC(2026, 0, 1)),
    mediaRootBackupKey: new Uint8Array(32).fill(7),
    currentAppVersion: 'coffer-test',
    firstAppVersion: 'coffer-test',
    debugInfo: new Uint8Array(0),
  };
}

describe('generator', () => {
  it('is deterministic for a seed and differs between seeds', async () => {
    const a = await freshStore();
    const b = await freshStore();
    const c = await freshStore();
    await generateIntoStore(a, small);
    await generateIntoStore(b, small);
    await generateIntoStore(c, { ...small, seed: 'other' });
    expect(await a.digest({ media: true })).toBe(await b.digest({ media: true }));
    expect(await a.digest()).not.toBe(await c.digest());
  });

  it('makes the requested shape: chats, messages, media files, quotes, reactions, edits, stickers', async () => {
    const s = await freshStore();
    const summary = await generateIntoStore(s, small);
    const counts = s.counts();
    expect(counts.chats).toBe(6);
    expect(counts.messages).toBe(3000);
    expect(counts.reactions).toBeGreaterThan(50);
    expect(counts.revisions).toBeGreaterThan(5);
    expect(counts.stickerPacks).toBe(2);
    const kinds = s.db.prepare('SELECT kind, count(*) AS n FROM messages GROUP BY kind').all() as {
      kind: string;
      n: number;
    }[];
    expect(kinds.map((k) => k.kind).sort()).toEqual(['deleted', 'standard', 'sticker']);
    expect(
      s.db.prepare('SELECT count(*) FROM messages WHERE quote_author_id IS NOT NULL').pluck().get(),
    ).toBeGreaterThan(10);
    // 12 attachment files plus the 8 sticker images.
    expect(s.listMedia().filter((m) => m.contentType !== 'image/webp').length).toBe(12);
    expect(summary.mediaFiles).toBe(20);
    for (const m of s.listMedia()) {
      const bytes = await s.readMedia(m.plaintextHash);
      expect(bytes?.length).toBe(m.size);
      expect(createHash('sha256').update(bytes!).digest().equals(Buffer.from(m.plaintextHash))).toBe(true);
    }
  });
});

describe('Backup frames', () => {
  it('round-trips losslessly: export -> import gives the same digest and counts', async () => {
    const a = await freshStore();
    const b = await freshStore();
    await generateIntoStore(a, small);
    await copyViaFrames(a, b);
    expect(b.counts()).toEqual(a.counts());
    expect(await b.digest()).toBe(await a.digest());
  });

  it('exports a backup the libsignal-rule validator accepts for remote backups', async () => {
    const a = await freshStore();
    await generateIntoStore(a, small);
    const result = await validateBackup(writeBackup(info(), a.exportFrames()), { purpose: 'remote-backup' });
    if (!result.ok) throw result.error;
    expect(result.summary.chatItems).toBe(3000);
  });
});

describe('atomic import', () => {
  it('shows nothing before commit, and abort leaves the store byte-for-byte as it was', async () => {
    const a = await freshStore();
    const b = await freshStore();
    await generateIntoStore(a, small);
    await generateIntoStore(b, { ...small, seed: 'existing', messages: 500 });
    const before = await b.digest();
    b.close();
    const fileBefore = readFileSync(join(b.dir, 'chat.db'));
    const reopened = await SqliteChatStore.open(b.dir);
    stores.push(reopened);
    const imp = await reopened.beginImport();
    let n = 0;
    for await (const f of a.exportFrames()) {
      await imp.addFrame(f);
      if (++n === 1000) expect(reopened.counts().messages).toBe(500);
    }
    await imp.abort();
    expect(await reopened.digest()).toBe(before);
    reopened.close();
    expect(readFileSync(join(b.dir, 'chat.db')).equals(fileBefore)).toBe(true);
  });

  it('an imported history has the secondary indexes, built at commit', async () => {
    const a = await freshStore();
    const b = await freshStore();
    await generateIntoStore(a, { ...small, messages: 500 });
    await copyViaFrames(a, b);
    const indexes = (db: SqliteChatStore['db']) =>
      db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
        .pluck()
        .all();
    expect(indexes(b.db)).toEqual(['attachments_by_media', 'messages_by_chat']);
    expect(indexes(b.db)).toEqual(indexes(a.db));
    const plan = b.db
      .prepare('EXPLAIN QUERY PLAN SELECT id FROM messages WHERE chat_id = 1 ORDER BY id')
      .all();
    expect(JSON.stringify(plan)).toMatch(/messages_by_chat/);
  });

  it('an export gives the live page cache size back, also when stopped early', async () => {
    const a = await freshStore();
    await generateIntoStore(a, { ...small, messages: 500 });
    const cache = () => a.db.pragma('cache_size', { simple: true });
    const live = cache();
    expect(live).not.toBe(-2000);
    // (The connection is busy while an export runs, so the 2 MiB cache itself is not observable here.)
    let n = 0;
    for (const _ of a.exportFrames()) n++;
    expect(n).toBeGreaterThan(500);
    expect(cache()).toBe(live);
    for (const _ of a.exportFrames()) break;
    expect(cache()).toBe(live);
  });

  it('a frame that cannot be stored fails the import and keeps the old history', async () => {
    const a = await freshStore();
    const b = await freshStore();
    await generateIntoStore(a, small);
    await generateIntoStore(b, { ...small, seed: 'existing', messages: 200 });
    const before = await b.digest();
    const imp = await b.beginImport();
    const frames: Frame[] = [];
    for await (const f of a.exportFrames()) frames.push(f);
    // The same recipient twice violates the primary key.
    const dup = frames.find((f) => f.item?.$case === 'recipient')!;
    let err: unknown;
    try {
      for (const f of [...frames.slice(0, 10), dup]) await imp.addFrame(f);
    } catch (e) {
      err = e;
      await imp.abort();
    }
    expect(hasErrorCode(err, 'COFFER_ERR_CHATSTORE_BAD_FRAME')).toBe(true);
    expect(await b.digest()).toBe(before);
    await expect(imp.addFrame(dup)).rejects.toMatchObject({ code: 'COFFER_ERR_CHATSTORE_IMPORT_CLOSED' });
  });

  it('commit replaces the whole history at once', async () => {
    const a = await freshStore();
    const b = await freshStore();
    await generateIntoStore(a, small);
    await generateIntoStore(b, { ...small, seed: 'existing', messages: 200 });
    await copyViaFrames(a, b);
    expect(await b.digest()).toBe(await a.digest());
  });
});

describe('media', () => {
  it('refuses bytes that do not match the hash and detects missing files in the digest', async () => {
    const a = await freshStore();
    await generateIntoStore(a, small);
    const ref = a.listMedia()[0]!;
    const withMedia = await a.digest({ media: true });
    await expect(a.writeMedia(ref.plaintextHash, new Uint8Array([1, 2, 3]))).rejects.toMatchObject({
      code: 'COFFER_ERR_CHATSTORE_MEDIA_MISMATCH',
    });
    rmSync(a.mediaPath(ref.plaintextHash));
    expect(await a.digest({ media: true })).not.toBe(withMedia);
    expect(await a.digest()).toBe(await a.digest());
  });
});
