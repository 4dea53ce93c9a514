import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CofferError } from '@coffer/crypto';
import type { Frame } from '@coffer/format';
import Database from 'better-sqlite3';
import {
  accountFrame,
  chatFrame,
  chatItemFrame,
  recipientFrame,
  rowFromFrame,
  stickerPackFrame,
} from './frames.ts';
import type { AccountModel, MediaRef, MessageModel, StoreCounts } from './model.ts';
import { SCHEMA_SQL, SCHEMA_VERSION } from './schema.ts';
import {
  readAccount,
  readChats,
  readMediaRefs,
  readMessages,
  readRecipients,
  readStickerPacks,
} from './sqlite-reader.ts';
import { SqliteWriter } from './sqlite-writer.ts';

const DB_FILE = 'chat.db';
const MEDIA_DIR = 'media';
const THUMB_SUFFIX = '.thumb';
/** Page cache of the live database while a backup reads it (KiB when negative; SQLite's default). */
const EXPORT_CACHE_SIZE = -2000;

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** Opens (creating if needed) a SQLite database with the chat schema. */
function openDb(path: string, mode: 'live' | 'staging'): Database.Database {
  const db = new Database(path);
  if (mode === 'live') {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  } else {
    // A staging file is thrown away on any failure, so it needs no journal; it is fsynced before the swap.
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    // An import appends in order and reads little back: a 4 MiB page cache (SQLite's default here
    // is 16 MiB) keeps a restore's peak memory from growing with the history (bench/README.md).
    db.pragma('cache_size = -4000');
  }
  // A staging database gets its secondary indexes at commit (SqliteModelImport.commit): one sorted
  // build each instead of a B-tree insert per imported row (bench/README.md, restore stages).
  db.exec(mode === 'live' ? SCHEMA_SQL : SCHEMA_TABLES_SQL);
  db.prepare('INSERT OR IGNORE INTO meta (k, v) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
  return db;
}

/** SCHEMA_SQL split into its CREATE INDEX statements and the rest. */
const SCHEMA_INDEX_SQL = SCHEMA_SQL.split(';')
  .map((st) => st.trim())
  .filter((st) => st.startsWith('CREATE INDEX'))
  .map((st) => `${st};`)
  .join('\n');
const SCHEMA_TABLES_SQL = SCHEMA_SQL.split(';')
  .map((st) => st.trim())
  .filter((st) => st !== '' && !st.startsWith('CREATE INDEX'))
  .map((st) => `${st};`)
  .join('\n');

/** Stable serialisation for the digest: bytes as hex, bigints as decimal strings. */
function canon(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const original = this[key];
    if (original instanceof Uint8Array) return hex(original);
    if (typeof v === 'bigint') return v.toString();
    return v;
  });
}

/**
 * A model-level import into a staging database file beside the live one. Nothing is visible to
 * readers of the store until `commit()`, which swaps the files with one atomic rename; `abort()`
 * (or any failure before commit) deletes the staging file and leaves the store exactly as it was.
 */
export class SqliteModelImport {
  readonly #store: SqliteChatStore;
  readonly #path: string;
  #db: Database.Database | undefined;
  readonly writer: SqliteWriter;
  #pending = 0;

  constructor(store: SqliteChatStore, path: string) {
    this.#store = store;
    this.#path = path;
    this.#db = openDb(path, 'staging');
    this.writer = new SqliteWriter(this.#db);
    this.writer.begin();
  }

  /** Call after each row: commits the staging transaction in batches so memory stays flat. */
  tick(): void {
    if (++this.#pending >= 20_000) {
      this.writer.commit();
      this.writer.begin();
      this.#pending = 0;
    }
  }

  get open(): boolean {
    return this.#db !== undefined;
  }

  commit(): void {
    const db = this.#requireDb();
    this.writer.commit();
    db.exec(SCHEMA_INDEX_SQL);
    db.close();
    this.#db = undefined;
    // Make the staged file durable before it becomes the live one.
    const fd = openSync(this.#path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.#store._swapIn(this.#path);
  }

  abort(): void {
    if (this.#db) {
      try {
        this.#db.close();
      } catch {
        // already closed by a failure; the file is removed below either way
      }
      this.#db = undefined;
    }
    rmSync(this.#path, { force: true });
  }

  #requireDb(): Database.Database {
    if (!this.#db) {
      throw new CofferError(
        'COFFER_ERR_CHATSTORE_IMPORT_CLOSED',
        'This import was already committed or aborted; start a new one.',
      );
    }
    return this.#db;
  }
}

/**
 * The reference chat store: a folder with `chat.db` (SQLite, WAL) and `media/` (files named by the
 * hex SHA-256 of their plaintext, thumbnails with a `.thumb` suffix).
 */
export class SqliteChatStore {
  readonly dir: string;
  #db: Database.Database;

  private constructor(dir: string, db: Database.Database) {
    this.dir = dir;
    this.#db = db;
  }

  static async open(dir: string): Promise<SqliteChatStore> {
    await mkdir(join(dir, MEDIA_DIR), { recursive: true });
    // Leftovers of an interrupted import are never live: remove them.
    for (const f of readdirSync(dir))
      if (f.startsWith(`${DB_FILE}.staging-`)) rmSync(join(dir, f), { force: true });
    return new SqliteChatStore(dir, openDb(join(dir, DB_FILE), 'live'));
  }

  /** The live database handle (for the generator and tests). */
  get db(): Database.Database {
    return this.#db;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  /** Starts an import into a staging file; see SqliteModelImport. */
  beginModelImport(): SqliteModelImport {
    const path = join(this.dir, `${DB_FILE}.staging-${randomBytes(6).toString('hex')}`);
    return new SqliteModelImport(this, path);
  }

  /** @internal Replaces the live database with a fully written staging file (atomic rename). */
  _swapIn(stagingPath: string): void {
    const live = join(this.dir, DB_FILE);
    // Closing the last connection checkpoints the WAL into chat.db and removes -wal/-shm, so the
    // rename below replaces the complete old state in one step.
    this.#db.close();
    for (const suffix of ['-wal', '-shm']) rmSync(live + suffix, { force: true });
    renameSync(stagingPath, live);
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    this.#db = openDb(live, 'live');
  }

  account(): AccountModel | undefined {
    return readAccount(this.#db);
  }

  recipients() {
    return readRecipients(this.#db);
  }

  chats() {
    return readChats(this.#db);
  }

  stickerPacks() {
    return readStickerPacks(this.#db);
  }

  /** Messages in render order (optionally of one chat). */
  messages(chatId?: number): Generator<MessageModel> {
    return readMessages(this.#db, chatId);
  }

  counts(): StoreCounts {
    const c = (sql: string): number => Number((this.#db.prepare(sql).pluck().get() as number | bigint) ?? 0);
    return {
      recipients: c('SELECT count(*) FROM recipients'),
      chats: c('SELECT count(*) FROM chats'),
      messages: c('SELECT count(*) FROM messages'),
      reactions: c('SELECT count(*) FROM reactions'),
      revisions: c('SELECT count(*) FROM revisions'),
      attachments: c('SELECT count(*) FROM attachments'),
      stickerPacks: c('SELECT count(*) FROM sticker_packs'),
      mediaFiles: c('SELECT count(DISTINCT plaintext_hash) FROM attachments'),
    };
  }

  /**
   * SHA-256 (hex) over the whole history in a canonical form: account, recipients, chats, sticker
   * packs and messages in render order (without their local row ids). With `media: true` it also
   * covers which media files and thumbnails are present and their exact bytes.
   */
  async digest(opts: { media?: boolean } = {}): Promise<string> {
    const h = createHash('sha256');
    h.update(`coffer-chatstore-digest-v1\n${canon(this.account() ?? null)}\n`);
    for (const r of this.recipients()) h.update(`r${canon(r)}\n`);
    for (const c of this.chats()) h.update(`c${canon(c)}\n`);
    for (const p of this.stickerPacks()) h.update(`p${canon(p)}\n`);
    for (const m of this.messages()) h.update(`m${canon(m)}\n`);
    if (opts.media) {
      const hashes = (
        this.#db
          .prepare('SELECT DISTINCT plaintext_hash FROM attachments ORDER BY plaintext_hash')
          .pluck()
          .all() as Buffer[]
      ).map((b) => b.toString('hex'));
      for (const name of hashes) {
        for (const suffix of ['', THUMB_SUFFIX]) {
          const path = join(this.dir, MEDIA_DIR, name + suffix);
          if (!existsSync(path)) {
            h.update(`f${name}${suffix} missing\n`);
            continue;
          }
          const fh = createHash('sha256')
            .update(await readFile(path))
            .digest('hex');
          h.update(`f${name}${suffix} ${fh}\n`);
        }
      }
    }
    return h.digest('hex');
  }

  /** Adds messages at the end of the history (a new message arrived or was sent); returns their ids. */
  appendMessages(messages: MessageModel[]): number[] {
    const w = new SqliteWriter(this.#db);
    const tx = this.#db.transaction((ms: MessageModel[]) => ms.map((m) => w.addMessage(m)));
    return tx(messages);
  }

  // --- Backup frames (the ChatStore contract of @coffer/client) ------------------------------

  /**
   * The whole history as Backup frames in the order Backup.proto requires: AccountData first,
   * then recipients (self first), chats and sticker packs, then chat items in render order.
   * A synchronous iterable (SQLite reads are synchronous): the frame writer then needs no await
   * per frame, which is most of the export time for a million messages.
   */
  *exportFrames(): Generator<Frame> {
    const account = this.account();
    if (!account) {
      throw new CofferError(
        'COFFER_ERR_CHATSTORE_NO_ACCOUNT',
        'This device has no account data yet; set up or restore the account first.',
      );
    }
    // A backup reads every page once, in order: SQLite's 2 MiB default page cache serves it as well
    // as the 16 MiB better-sqlite3 configures, which otherwise fills up during the export and makes
    // the backup's peak memory grow with the history (bench/README.md). Restored afterwards.
    const cacheSize = this.#db.pragma('cache_size', { simple: true }) as number;
    this.#db.pragma(`cache_size = ${EXPORT_CACHE_SIZE}`);
    try {
      yield accountFrame(account);
      for (const r of this.recipients()) yield recipientFrame(r);
      for (const c of this.chats()) yield chatFrame(c);
      for (const p of this.stickerPacks()) yield stickerPackFrame(p);
      for (const m of this.messages()) yield chatItemFrame(m);
    } finally {
      if (this.#db.open) this.#db.pragma(`cache_size = ${Math.trunc(cacheSize)}`);
    }
  }

  /** Starts an atomic import of Backup frames (nothing visible before `commit()`). */
  async beginImport(): Promise<FrameImportSession> {
    return new FrameImportSession(this.beginModelImport());
  }

  // --- media -------------------------------------------------------------------------------

  /** Distinct media the history refers to, most recently used first. */
  listMedia(): MediaRef[] {
    return readMediaRefs(this.#db);
  }

  mediaPath(plaintextHash: Uint8Array, thumbnail = false): string {
    return join(this.dir, MEDIA_DIR, hex(plaintextHash) + (thumbnail ? THUMB_SUFFIX : ''));
  }

  async hasMedia(plaintextHash: Uint8Array, thumbnail = false): Promise<boolean> {
    try {
      await stat(this.mediaPath(plaintextHash, thumbnail));
      return true;
    } catch {
      return false;
    }
  }

  async readMedia(plaintextHash: Uint8Array, thumbnail = false): Promise<Uint8Array | undefined> {
    try {
      return new Uint8Array(await readFile(this.mediaPath(plaintextHash, thumbnail)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  /** Writes a media file (checked against its plaintext hash) or a thumbnail, atomically. */
  async writeMedia(plaintextHash: Uint8Array, bytes: Uint8Array, thumbnail = false): Promise<void> {
    if (!thumbnail) {
      const actual = createHash('sha256').update(bytes).digest();
      if (!actual.equals(Buffer.from(plaintextHash))) {
        throw new CofferError(
          'COFFER_ERR_CHATSTORE_MEDIA_MISMATCH',
          'A media file did not match its recorded hash, so it was not saved; restore it again.',
        );
      }
    }
    const path = this.mediaPath(plaintextHash, thumbnail);
    const tmp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, bytes);
    try {
      await rename(tmp, path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /** Total bytes of media files present (not thumbnails). */
  mediaBytesOnDisk(): number {
    let total = 0;
    for (const f of readdirSync(join(this.dir, MEDIA_DIR))) {
      if (!f.endsWith(THUMB_SUFFIX) && !f.includes('.tmp-'))
        total += statSync(join(this.dir, MEDIA_DIR, f)).size;
    }
    return total;
  }
}

/** What an import kept and what it skipped (frame kinds the reference store does not model). */
export interface ImportSummary {
  frames: number;
  messages: number;
  skipped: Record<string, number>;
}

/** Frame-level import session (ChatStore contract): addFrame*, then commit() or abort(). */
export class FrameImportSession {
  readonly #imp: SqliteModelImport;
  readonly #summary: ImportSummary = { frames: 0, messages: 0, skipped: {} };

  constructor(imp: SqliteModelImport) {
    this.#imp = imp;
  }

  async addFrame(frame: Frame): Promise<void> {
    this.addFrameSync(frame);
  }

  addFrameSync(frame: Frame): void {
    if (!this.#imp.open) {
      throw new CofferError(
        'COFFER_ERR_CHATSTORE_IMPORT_CLOSED',
        'This import was already committed or aborted.',
      );
    }
    this.#summary.frames++;
    const row = rowFromFrame(frame);
    const w = this.#imp.writer;
    try {
      switch (row.kind) {
        case 'account':
          w.setAccount(row.account);
          break;
        case 'recipient':
          w.addRecipient(row.recipient);
          break;
        case 'chat':
          w.addChat(row.chat);
          break;
        case 'stickerPack':
          w.addStickerPack(row.stickerPack);
          break;
        case 'message':
          w.addMessage(row.message);
          this.#summary.messages++;
          break;
        case 'skipped':
          this.#summary.skipped[row.what] = (this.#summary.skipped[row.what] ?? 0) + 1;
          break;
      }
    } catch (err) {
      throw new CofferError(
        'COFFER_ERR_CHATSTORE_BAD_FRAME',
        `Backup frame ${this.#summary.frames - 1} could not be imported; the device was left unchanged.`,
        { cause: err, details: { frameIndex: this.#summary.frames - 1, kind: row.kind } },
      );
    }
    this.#imp.tick();
  }

  async commit(): Promise<ImportSummary> {
    this.#imp.commit();
    return this.#summary;
  }

  async abort(): Promise<void> {
    this.#imp.abort();
  }
}
