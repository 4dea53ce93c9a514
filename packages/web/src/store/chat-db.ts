import { readState, writeState } from './app-state.ts';
import { deleteDatabase, openDatabase, requestToPromise, transactionDone } from './idb.ts';
import type {
  AccountModel,
  ChatModel,
  ChatSummary,
  MediaRecord,
  RecipientModel,
  StickerPackModel,
  StoredMessage,
} from './model.ts';

/**
 * The messenger's chat database in IndexedDB.
 *
 * The live history is one IndexedDB database whose name is kept in a small pointer database.
 * An import (a restore) writes a brand-new database and then swaps the pointer in one
 * transaction, so nothing of a restore is visible before it commits, and an abort just deletes
 * the half-written database: the device's store stays exactly as it was.
 */

const STORES = ['account', 'recipients', 'chats', 'stickerPacks', 'messages', 'media'] as const;
export type StoreName = (typeof STORES)[number];

function upgradeChatDb(db: IDBDatabase): void {
  db.createObjectStore('account');
  db.createObjectStore('recipients', { keyPath: 'id' });
  db.createObjectStore('chats', { keyPath: 'id' });
  // Keyed by hex(packId) (out of line: byte arrays are not IndexedDB keys).
  db.createObjectStore('stickerPacks');
  const messages = db.createObjectStore('messages', { keyPath: 'id', autoIncrement: true });
  messages.createIndex('byChat', ['chatId', 'dateSent']);
  const media = db.createObjectStore('media', { keyPath: 'id' });
  media.createIndex('byLastUsed', 'lastUsedAt');
}

async function readPointer(): Promise<string | undefined> {
  const v = await readState<unknown>('chatDb');
  return typeof v === 'string' ? v : undefined;
}

async function writePointer(name: string): Promise<void> {
  await writeState('chatDb', name);
}

function freshName(): string {
  const r = crypto.getRandomValues(new Uint8Array(6));
  return `coffer-chats-${Array.from(r, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** Batches writes into transactions of `batch` records: fast, bounded memory. */
export class ChatDbWriter {
  private pending: Array<{ store: StoreName; value: unknown; key?: IDBValidKey }> = [];

  constructor(
    private readonly db: IDBDatabase,
    private readonly batch = 500,
  ) {}

  async put(store: StoreName, value: unknown, key?: IDBValidKey): Promise<void> {
    this.pending.push(key === undefined ? { store, value } : { store, value, key });
    if (this.pending.length >= this.batch) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const items = this.pending;
    this.pending = [];
    const tx = this.db.transaction([...new Set(items.map((i) => i.store))], 'readwrite');
    for (const item of items) {
      const os = tx.objectStore(item.store);
      if (item.key === undefined) os.put(item.value);
      else os.put(item.value, item.key);
    }
    await transactionDone(tx);
  }
}

export interface ChatDbImport {
  readonly writer: ChatDbWriter;
  /** Makes the imported history the live one (a pointer swap); the old database is deleted. */
  commit(): Promise<void>;
  /** Throws the half-written history away; the live one is untouched. */
  abort(): Promise<void>;
}

export class ChatDb extends EventTarget {
  private current: { name: string; db: IDBDatabase } | undefined;

  static async open(): Promise<ChatDb> {
    const store = new ChatDb();
    await store.live();
    return store;
  }

  /** The live database, opened (and created on first run) lazily. */
  async live(): Promise<IDBDatabase> {
    if (this.current) return this.current.db;
    let name = await readPointer();
    if (!name) {
      name = freshName();
      await writePointer(name);
    }
    const db = await openDatabase(name, 1, upgradeChatDb);
    this.current = { name, db };
    return db;
  }

  /** Tells the screens to reload (after a send, an import or a media file arriving). */
  changed(what: 'messages' | 'media' | 'all'): void {
    this.dispatchEvent(new CustomEvent('change', { detail: what }));
  }

  async account(): Promise<AccountModel | undefined> {
    const db = await this.live();
    return (await requestToPromise(db.transaction('account').objectStore('account').get('self'))) as
      | AccountModel
      | undefined;
  }

  async setAccount(account: AccountModel): Promise<void> {
    const db = await this.live();
    const tx = db.transaction('account', 'readwrite');
    tx.objectStore('account').put(account, 'self');
    await transactionDone(tx);
  }

  async recipients(): Promise<RecipientModel[]> {
    const db = await this.live();
    return (await requestToPromise(
      db.transaction('recipients').objectStore('recipients').getAll(),
    )) as RecipientModel[];
  }

  async chats(): Promise<ChatModel[]> {
    const db = await this.live();
    return (await requestToPromise(db.transaction('chats').objectStore('chats').getAll())) as ChatModel[];
  }

  async counts(): Promise<{ chats: number; messages: number; media: number; mediaPresent: number }> {
    const db = await this.live();
    const tx = db.transaction(['chats', 'messages', 'media']);
    const [chats, messages, media] = await Promise.all([
      requestToPromise(tx.objectStore('chats').count()),
      requestToPromise(tx.objectStore('messages').count()),
      requestToPromise(tx.objectStore('media').getAll()),
    ]);
    const list = media as MediaRecord[];
    return { chats, messages, media: list.length, mediaPresent: list.filter((m) => m.blob).length };
  }

  /** Chats with their recipient, newest activity first (pinned chats on top). */
  async summaries(): Promise<ChatSummary[]> {
    const db = await this.live();
    const tx = db.transaction(['chats', 'recipients', 'messages']);
    const chats = (await requestToPromise(tx.objectStore('chats').getAll())) as ChatModel[];
    const recipients = new Map(
      ((await requestToPromise(tx.objectStore('recipients').getAll())) as RecipientModel[]).map((r) => [
        r.id,
        r,
      ]),
    );
    const index = tx.objectStore('messages').index('byChat');
    const out: ChatSummary[] = [];
    for (const chat of chats) {
      const recipient = recipients.get(chat.recipientId);
      if (!recipient) continue;
      const range = IDBKeyRange.bound([chat.id, -Infinity], [chat.id, Infinity]);
      const count = await requestToPromise(index.count(range));
      const cursor = await requestToPromise(index.openCursor(range, 'prev'));
      out.push({ chat, recipient, last: (cursor?.value as StoredMessage | undefined) ?? undefined, count });
    }
    out.sort((a, b) => {
      const pa = a.chat.pinnedOrder ?? Number.MAX_SAFE_INTEGER;
      const pb = b.chat.pinnedOrder ?? Number.MAX_SAFE_INTEGER;
      if (pa !== pb) return pa - pb;
      return (b.last?.dateSent ?? 0) - (a.last?.dateSent ?? 0);
    });
    return out;
  }

  async messages(chatId: number, limit = 200): Promise<StoredMessage[]> {
    const db = await this.live();
    const index = db.transaction('messages').objectStore('messages').index('byChat');
    const range = IDBKeyRange.bound([chatId, -Infinity], [chatId, Infinity]);
    const out: StoredMessage[] = [];
    await new Promise<void>((resolve, reject) => {
      const req = index.openCursor(range, 'prev');
      req.onerror = () => reject(req.error);
      req.onsuccess = () => {
        const cursor = req.result;
        if (!cursor || out.length >= limit) return resolve();
        out.push(cursor.value as StoredMessage);
        cursor.continue();
      };
    });
    return out.reverse();
  }

  /** Every message in arrival order (the auto-increment key): Backup.proto frame rule 3. */
  async *allMessages(batch = 500): AsyncGenerator<StoredMessage> {
    const db = await this.live();
    let after = 0;
    for (;;) {
      const range = IDBKeyRange.lowerBound(after, true);
      const rows = (await requestToPromise(
        db.transaction('messages').objectStore('messages').getAll(range, batch),
      )) as StoredMessage[];
      yield* rows;
      if (rows.length < batch) return;
      after = rows.at(-1)?.id ?? Number.MAX_SAFE_INTEGER;
    }
  }

  async stickerPacks(): Promise<StickerPackModel[]> {
    const db = await this.live();
    return (await requestToPromise(
      db.transaction('stickerPacks').objectStore('stickerPacks').getAll(),
    )) as StickerPackModel[];
  }

  async addMessage(message: StoredMessage): Promise<number> {
    const db = await this.live();
    const tx = db.transaction('messages', 'readwrite');
    const id = (await requestToPromise(tx.objectStore('messages').add(message))) as number;
    await transactionDone(tx);
    this.changed('messages');
    return id;
  }

  async media(id: string): Promise<MediaRecord | undefined> {
    const db = await this.live();
    return (await requestToPromise(db.transaction('media').objectStore('media').get(id))) as
      | MediaRecord
      | undefined;
  }

  /** All media records, most recently used first (the order a restore fetches them in). */
  async allMedia(): Promise<MediaRecord[]> {
    const db = await this.live();
    const list = (await requestToPromise(
      db.transaction('media').objectStore('media').getAll(),
    )) as MediaRecord[];
    return list.sort((a, b) => b.lastUsedAt - a.lastUsedAt);
  }

  async putMedia(record: MediaRecord): Promise<void> {
    const db = await this.live();
    const tx = db.transaction('media', 'readwrite');
    tx.objectStore('media').put(record);
    await transactionDone(tx);
    this.changed('media');
  }

  /** Starts writing a whole new history beside the live one (see the class comment). */
  async beginImport(): Promise<ChatDbImport> {
    const name = freshName();
    const db = await openDatabase(name, 1, upgradeChatDb);
    const writer = new ChatDbWriter(db);
    let done = false;
    return {
      writer,
      commit: async () => {
        if (done) throw new Error('import already finished');
        done = true;
        await writer.flush();
        const old = this.current;
        await writePointer(name);
        this.current = { name, db };
        if (old) {
          old.db.close();
          await deleteDatabase(old.name);
        }
        this.changed('all');
      },
      abort: async () => {
        if (done) return;
        done = true;
        db.close();
        await deleteDatabase(name);
      },
    };
  }

  /** Replaces the live history with an empty one (used by "seed" to start from a clean slate). */
  async reset(): Promise<void> {
    const session = await this.beginImport();
    await session.commit();
  }
}
