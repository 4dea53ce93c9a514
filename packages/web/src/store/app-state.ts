import { openDatabase, requestToPromise, transactionDone } from './idb.ts';

/**
 * Small app settings that are not secrets and survive "turn off backups": which chat database is
 * live, the identifier this device verified, the daily backup time. One IndexedDB store.
 */
const APP_DB = 'coffer-app';

async function open(): Promise<IDBDatabase> {
  return openDatabase(APP_DB, 1, (db) => {
    db.createObjectStore('state');
  });
}

export async function readState<T>(name: string): Promise<T | undefined> {
  const db = await open();
  try {
    return (await requestToPromise(db.transaction('state').objectStore('state').get(name))) as T | undefined;
  } finally {
    db.close();
  }
}

export async function writeState(name: string, value: unknown): Promise<void> {
  const db = await open();
  try {
    const tx = db.transaction('state', 'readwrite');
    tx.objectStore('state').put(value, name);
    await transactionDone(tx);
  } finally {
    db.close();
  }
}
