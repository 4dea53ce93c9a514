import { openDatabase, requestToPromise, transactionDone } from './idb.ts';

/**
 * The client SDK's KeyStore in the browser: one IndexedDB object store of named strings.
 *
 * It holds the recovery key, the keys derived from it, the device token and the backup status.
 * They never leave this browser profile (IndexedDB is per origin and per profile), are never
 * logged, and `wipe()` removes them all when backups are turned off.
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

  async read(name: string): Promise<string | undefined> {
    const db = await this.db();
    const value: unknown = await requestToPromise(db.transaction('keys').objectStore('keys').get(name));
    return typeof value === 'string' ? value : undefined;
  }

  async write(name: string, value: string): Promise<void> {
    const db = await this.db();
    const tx = db.transaction('keys', 'readwrite');
    tx.objectStore('keys').put(value, name);
    await transactionDone(tx);
  }

  async delete(name: string): Promise<void> {
    const db = await this.db();
    const tx = db.transaction('keys', 'readwrite');
    tx.objectStore('keys').delete(name);
    await transactionDone(tx);
  }

  async wipe(): Promise<void> {
    const db = await this.db();
    const tx = db.transaction('keys', 'readwrite');
    tx.objectStore('keys').clear();
    await transactionDone(tx);
  }

  /** Names present (the test checks that turning backups off wiped the keys). */
  async names(): Promise<string[]> {
    const db = await this.db();
    const keys = await requestToPromise(db.transaction('keys').objectStore('keys').getAllKeys());
    return keys.filter((k): k is string => typeof k === 'string');
  }
}
