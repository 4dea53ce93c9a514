import type { Frame } from '@coffer/format';

/**
 * What an app implements so Coffer can back its history up and restore it (CONTRACTS.md).
 * The reference implementation is @coffer/chatstore's SqliteChatStore (Node); the web app has an
 * IndexedDB one. Everything here is browser-safe.
 */
export interface ChatStore {
  /**
   * The whole history as Backup frames, in Backup.proto order (AccountData first). A synchronous
   * iterable is read without an await per frame (faster); an async one works too.
   */
  exportFrames(): AsyncIterable<Frame> | Iterable<Frame>;
  /** Starts an import: frames go into a staging area; nothing is visible before `commit()`. */
  beginImport(): Promise<ImportSession>;
  /** Distinct media the history refers to, most recently used first. */
  listMedia(): MediaDescriptor[] | Promise<MediaDescriptor[]>;
  /** The media plaintext (or its thumbnail), or undefined when it is not on this device. */
  readMedia(plaintextHash: Uint8Array, thumbnail?: boolean): Promise<Uint8Array | undefined>;
  /** Saves restored media (the store checks the hash of full files). */
  writeMedia(plaintextHash: Uint8Array, bytes: Uint8Array, thumbnail?: boolean): Promise<void>;
  hasMedia(plaintextHash: Uint8Array, thumbnail?: boolean): Promise<boolean>;
}

export interface ImportSession {
  addFrame(frame: Frame): Promise<void>;
  /** Makes the imported history visible at once, replacing the previous one. */
  commit(): Promise<unknown>;
  /** Throws the staged data away; the store stays exactly as it was. */
  abort(): Promise<void>;
}

/** One media file: identified by its plaintext SHA-256 and its 64-byte attachment keys (spec 5.2). */
export interface MediaDescriptor {
  plaintextHash: Uint8Array;
  key: Uint8Array;
  size: number;
  contentType: string | null;
  /** ms since epoch of the newest message using it (restore order). */
  lastUsedAt: number;
}
