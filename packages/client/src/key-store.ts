/**
 * Where the device keeps its backup secrets (recovery key, media root key, device token) and the
 * backup status. Values are small strings. Implementations: `FileKeyStore` (Node, profile folder,
 * owner-only permissions, optional passphrase), an IndexedDB one in the web app, and
 * `MemoryKeyStore` for tests. Keys never leave the device: nothing here is ever sent or logged.
 */
export interface KeyStore {
  read(name: string): Promise<string | undefined>;
  write(name: string, value: string): Promise<void>;
  delete(name: string): Promise<void>;
  /** Removes every entry (disableBackups). */
  wipe(): Promise<void>;
}

/** In-memory key store (tests, and a browser tab that must not persist keys). */
export class MemoryKeyStore implements KeyStore {
  readonly #entries = new Map<string, string>();

  async read(name: string): Promise<string | undefined> {
    return this.#entries.get(name);
  }

  async write(name: string, value: string): Promise<void> {
    this.#entries.set(name, value);
  }

  async delete(name: string): Promise<void> {
    this.#entries.delete(name);
  }

  async wipe(): Promise<void> {
    this.#entries.clear();
  }

  /** Names present (tests check that a wipe removed everything). */
  names(): string[] {
    return [...this.#entries.keys()];
  }
}
