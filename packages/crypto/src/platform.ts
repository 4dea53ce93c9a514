// The platform seam (ARCHITECTURE.md): the sealed stream and media code are written once against
// this interface; Node gets node:crypto / node:zlib / worker threads, browsers get WebCrypto,
// @noble/hashes and a JS inflater. Both produce the same bytes (tested against each other).

/** Incremental HMAC-SHA256. */
export interface MacStream {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
}

/** Streaming AES-256-CBC with PKCS#7 padding; `update` output is always whole blocks. */
export interface CbcStream {
  update(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** Encryption: the padded last block(s). Decryption: the unpadded tail; throws on bad padding. */
  final(): Uint8Array | Promise<Uint8Array>;
}

/**
 * A raw-DEFLATE decompressor that can say where its stream ended, which a strict reader needs:
 * after the DEFLATE data come the gzip trailer and zero padding (spec 3.2), and browsers'
 * DecompressionStream rejects any byte after the end (so it cannot be used for reading).
 */
export interface RawInflater {
  /**
   * Feeds bytes. `consumed` is how many of them belonged to the DEFLATE stream; when it is less
   * than `data.length` (or on a later call, 0) the stream has ended (`ended`).
   */
  push(data: Uint8Array): Promise<{ output: Uint8Array[]; consumed: number; ended: boolean }>;
  /** No more input: resolves with the last output, or throws if the stream is incomplete/corrupt. */
  finish(): Promise<{ output: Uint8Array[]; ended: boolean }>;
  /** Releases native resources early (on errors / early exits). */
  close(): void;
}

export interface Platform {
  readonly name: 'node' | 'web';
  hmacSha256(key: Uint8Array): MacStream;
  /** SHA-256 with `copy()` so incremental MACs can be snapshotted (spec 5.1). */
  sha256(): HashStream;
  /** SHA-256 off the main thread where the platform can (media hashing beside AES-CBC). */
  sha256Offloaded(): AsyncHashStream;
  /** The incremental MAC of an attachment blob (spec 5.1), off the main thread where the platform can. */
  incrementalMacOffloaded(macKey: Uint8Array, chunkSize: number): AsyncIncrementalMac;
  aesCbcEncrypt(key: Uint8Array, iv: Uint8Array): CbcStream;
  aesCbcDecrypt(key: Uint8Array, iv: Uint8Array): CbcStream;
  /**
   * Most ciphertext `openBackup` hands to one `aesCbcDecrypt().update`. Node returns a fresh
   * buffer per call, so small steps let each plaintext piece be consumed and freed by the next
   * young-generation collection (bench/README.md, restore memory); WebCrypto pays a round trip
   * per call, so the web platform decrypts each chunk whole.
   */
  readonly decryptStep: number;
  /** One standard gzip member of `input` (any chunking). */
  gzip(
    input: AsyncIterable<Uint8Array>,
    opts: { level: number; workers?: number },
  ): AsyncIterable<Uint8Array>;
  rawInflater(): RawInflater;
  crc32(data: Uint8Array, previous: number): number;
}

/** SHA-256 that may run elsewhere (a worker thread in Node): updates may wait for room, digest is async. */
export interface AsyncHashStream {
  update(data: Uint8Array): Promise<void>;
  digest(): Promise<Uint8Array>;
  /** Abandons the hash (early exit or error) and frees its resources. */
  dispose(): void;
}

/** An incremental MAC that may run elsewhere (see media-incremental-mac.ts for the construction). */
export interface AsyncIncrementalMac {
  update(data: Uint8Array): Promise<void>;
  /** The running HMAC-SHA256 of everything so far (the blob's own MAC when taken after IV || CT). */
  snapshot(): Promise<Uint8Array>;
  /** Every chunk digest plus the final one, concatenated; the stream is finished. */
  finish(): Promise<Uint8Array>;
  dispose(): void;
}

export interface HashStream {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
  copy(): HashStream;
}

let cached: Promise<Platform> | undefined;

/** True when running under Node (also Deno/Bun with node compat), where the fast path applies. */
export function isNodeRuntime(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/**
 * The platform for this runtime, or the one named (tests run the web path under Node 20, which
 * has WebCrypto and CompressionStream). Node-only modules are imported lazily so browser bundles
 * never execute them.
 */
export function getPlatform(name?: 'node' | 'web'): Promise<Platform> {
  const want = name ?? (isNodeRuntime() ? 'node' : 'web');
  if (want === 'web') return import('./platform-web.ts').then((m) => m.webPlatform);
  if (cached === undefined) {
    cached = importNodeOnly<{ nodePlatform: Platform }>('./platform-node.ts').then((m) => m.nodePlatform);
  }
  return cached;
}

/**
 * Imports a Node-only module (relative to this file, or `node:*`) through a specifier bundlers
 * cannot see, so browser bundles (esbuild, Vite) neither follow nor fail on it. Only ever called
 * when `isNodeRuntime()`.
 */
export function importNodeOnly<T>(specifier: string): Promise<T> {
  const url = specifier.startsWith('node:') ? specifier : new URL(specifier, import.meta.url).href;
  return import(/* @vite-ignore */ url) as Promise<T>;
}
