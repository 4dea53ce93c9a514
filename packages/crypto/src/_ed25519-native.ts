// Node fast path for the Ed25519 equation inside XEdDSA verification (the platform seam of
// ARCHITECTURE.md, kept synchronous): OpenSSL's Ed25519 verify is ~10x faster than BigInt point
// arithmetic, which matters on the server, which checks an XEdDSA signature on every backup-id
// request. node:crypto is obtained with `process.getBuiltinModule` (Node >= 20.16), never a static
// import, so browser bundles neither include nor execute it; there the pure-JS path is used.
//
// OpenSSL's check is the same cofactorless equation libsignal uses (encode(sB - hA) == R, with
// h = SHA-512(R || A || M)); it only refuses s >= q, which the caller reduces first.

interface NodeCryptoLike {
  createPublicKey(input: { key: { kty: 'OKP'; crv: 'Ed25519'; x: string }; format: 'jwk' }): object;
  verify(algorithm: null, data: Uint8Array, key: object, signature: Uint8Array): boolean;
}

let nodeCrypto: NodeCryptoLike | null | undefined;

function _load(): NodeCryptoLike | null {
  if (nodeCrypto !== undefined) return nodeCrypto;
  nodeCrypto = null;
  try {
    const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
    const mod = proc?.getBuiltinModule?.('node:crypto') as Partial<NodeCryptoLike> | undefined;
    if (typeof mod?.verify === 'function' && typeof mod.createPublicKey === 'function') {
      nodeCrypto = mod as NodeCryptoLike;
    }
  } catch {
    nodeCrypto = null;
  }
  return nodeCrypto;
}

// Servers see the same few backup-id keys again and again; caching the key objects saves the
// JWK import (and the caller's field inversion) on every request. Bounded, oldest evicted first.
const KEY_CACHE_LIMIT = 512;
const keyCache = new Map<string, object>();

/**
 * Native Ed25519 verification of (R || s) over `message` with the Edwards public key encoding
 * `edPublicKey`, or undefined when no native implementation is available or it refused the key
 * (the caller then uses the pure-JS path, which is authoritative for such edge cases).
 * `cacheKey` identifies edPublicKey cheaply (it is derived from the caller's input).
 */
export function _nativeEd25519Verify(
  cacheKey: string,
  edPublicKey: () => Uint8Array | undefined,
  message: Uint8Array,
  signature: Uint8Array,
): boolean | undefined {
  const c = _load();
  if (c === null) return undefined;
  try {
    let key = keyCache.get(cacheKey);
    if (key === undefined) {
      const enc = edPublicKey();
      if (enc === undefined) return undefined;
      key = c.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: _b64url(enc) }, format: 'jwk' });
      if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.delete(keyCache.keys().next().value as string);
      keyCache.set(cacheKey, key);
    }
    return c.verify(null, message, key, signature);
  } catch {
    return undefined;
  }
}

/** Test hook: whether the native path is available in this runtime. */
export function _hasNativeEd25519(): boolean {
  return _load() !== null;
}

function _b64url(b: Uint8Array): string {
  return btoa(String.fromCharCode(...b))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
}
