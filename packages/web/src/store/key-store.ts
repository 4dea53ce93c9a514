import { openDatabase, requestToPromise, transactionDone } from './idb.ts';

/**
 * The device's key store in the browser: one IndexedDB object store of named byte values.
 *
 * It holds the recovery key and the keys derived from it, plus the device's account credentials.
 * They never leave this profile (IndexedDB is per origin and per profile); `clear()` wipes them
 * when backups are turned off. Values are copied in and out so callers cannot alias them.
 */
export class IndexedDbKeyStore {
  private dbPromise: Promise<IDBDatabase> | undefined;

  constructor(private readonly dbName = 'coffer-keys') {}

  private db(): Promise<IDBDatabase> {
    this.dbPromise ??= openDatabase(this.dbName, 1, (db) => {
      db.createObjectStore('keys');
    });
    return this.dbPromise;
  }

  async get(name: string): Promise<Uint8Array | undefined> {
    const db = await this.db();
    const value: unknown = await requestToPromise(db.transaction('keys').objectStore('keys').get(name));
    return value instanceof Uint8Array ? value.slice() : undefined;
  }

  async set(name: string, value: Uint8Array): Promise<void> {
    const db = await this.db();
    const tx = db.transaction('keys', 'readwrite');
    tx.objectStore('keys').put(value.slice(), name);
    await transactionDone(tx);
  }

  async delete(name: string): Promise<void> {
    const db = await this.db();
    const tx = db.transaction('keys', 'readwrite');
    tx.objectStore('keys').delete(name);
    await transactionDone(tx);
  }

  async list(): Promise<string[]> {
    const db = await this.db();
    const keys = await requestToPromise(db.transaction('keys').objectStore('keys').getAllKeys());
    return keys.filter((k): k is string => typeof k === 'string');
  }

  async clear(): Promise<void> {
    const db = await this.db();
    const tx = db.transaction('keys', 'readwrite');
    tx.objectStore('keys').clear();
    await transactionDone(tx);
  }
}
