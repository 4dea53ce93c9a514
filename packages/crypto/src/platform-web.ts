// Browser path of the platform seam (also runs under Node 20, which has WebCrypto and
// CompressionStream, so tests compare it byte for byte with the Node path):
// - AES-256-CBC through WebCrypto, chained chunk by chunk (WebCrypto has no streaming API);
// - HMAC / SHA-256 through @noble/hashes (streaming, with clone() for incremental MAC snapshots);
// - gzip through CompressionStream('gzip');
// - gunzip through pako's raw inflater: DecompressionStream rejects any byte after the end of
//   the compressed data (Chromium: "Junk found after end of compressed data"), but a sealed
//   backup has zero padding there (spec 3.3), and a strict reader must know where the member ends.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { Inflate } from 'pako';
import { crc32 } from './crc32.ts';
import { inlineIncrementalMac, inlineSha256 } from './media-incremental-mac.ts';
import type { CbcStream, HashStream, MacStream, Platform, RawInflater } from './platform.ts';

const BLOCK = 16;
const PKCS7_FULL_BLOCK = new Uint8Array(16).fill(16);

function subtle(): SubtleCrypto {
  const s = globalThis.crypto?.subtle;
  if (!s)
    throw new Error('WebCrypto (crypto.subtle) is not available: use a secure context (https or localhost)');
  return s;
}

function importAes(key: Uint8Array, usage: KeyUsage[]): Promise<CryptoKey> {
  return subtle().importKey('raw', key.slice(), { name: 'AES-CBC' }, false, usage);
}

async function cbcEncryptRaw(k: CryptoKey, iv: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().encrypt({ name: 'AES-CBC', iv: iv.slice() }, k, data.slice()));
}

/** Encryption: each update encrypts its whole blocks and drops the PKCS#7 block WebCrypto appends. */
function webCbcEncrypt(key: Uint8Array, iv0: Uint8Array): CbcStream {
  const kp = importAes(key, ['encrypt']);
  let iv = iv0.slice();
  let rest: Uint8Array = new Uint8Array(0);
  return {
    async update(data) {
      const all = concat(rest, data);
      const whole = all.length - (all.length % BLOCK);
      rest = all.slice(whole);
      if (whole === 0) return new Uint8Array(0);
      const out = await cbcEncryptRaw(await kp, iv, all.subarray(0, whole));
      const ct = out.subarray(0, whole);
      iv = ct.slice(whole - BLOCK);
      return ct;
    },
    async final() {
      return cbcEncryptRaw(await kp, iv, rest);
    },
  };
}

/**
 * Decryption: the last block is held back for `final` (it carries the padding). For the blocks
 * before it, a forged full-padding block E = AES(0x10^16 XOR lastCt) is appended so that
 * WebCrypto's PKCS#7 check passes and strips exactly E; E comes from a one-block encryption.
 */
function webCbcDecrypt(key: Uint8Array, iv0: Uint8Array): CbcStream {
  const kp = importAes(key, ['encrypt', 'decrypt']);
  let iv = iv0.slice();
  let rest: Uint8Array = new Uint8Array(0);
  return {
    async update(data) {
      const all = concat(rest, data);
      let whole = all.length - (all.length % BLOCK);
      if (whole === all.length) whole -= BLOCK; // hold back the (possibly) last block
      if (whole <= 0) {
        rest = all.slice();
        return new Uint8Array(0);
      }
      rest = all.slice(whole);
      const ct = all.subarray(0, whole);
      const k = await kp;
      const lastCt = ct.subarray(whole - BLOCK);
      const e = (await cbcEncryptRaw(k, lastCt, PKCS7_FULL_BLOCK)).subarray(0, BLOCK);
      const pt = await subtle().decrypt({ name: 'AES-CBC', iv: iv.slice() }, k, concat(ct, e).slice());
      iv = lastCt.slice();
      return new Uint8Array(pt);
    },
    async final() {
      if (rest.length !== BLOCK) throw new Error('ciphertext is not a whole number of blocks');
      return new Uint8Array(
        await subtle().decrypt({ name: 'AES-CBC', iv: iv.slice() }, await kp, rest.slice()),
      );
    },
  };
}

function nobleHash(h: ReturnType<typeof sha256.create>): HashStream {
  return { update: (d) => void h.update(d), digest: () => h.digest(), copy: () => nobleHash(h.clone()) };
}

async function* webGzip(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const cs = new CompressionStream('gzip');
  const writer = cs.writable.getWriter();
  const reader = cs.readable.getReader();
  let pumpError: unknown;
  const pump = (async () => {
    try {
      for await (const chunk of input) {
        await writer.ready;
        await writer.write(chunk.slice());
      }
      await writer.close();
    } catch (e) {
      pumpError = e;
      await writer.abort(e).catch(() => {});
    }
  })();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      yield r.value;
    }
  } catch (e) {
    throw pumpError ?? e;
  } finally {
    reader.releaseLock();
    await pump;
  }
  if (pumpError !== undefined) throw pumpError;
}

class PakoRawInflater implements RawInflater {
  private readonly inf = new Inflate({ raw: true, chunkSize: 64 * 1024 });
  /** pako keeps `ended` and `strm.avail_in` (unused input after the end) on the instance. */
  private readonly state = this.inf as unknown as { ended: boolean; strm: { avail_in: number } };
  private out: Uint8Array[] = [];
  constructor() {
    this.inf.onData = (chunk) => {
      this.out.push(chunk as Uint8Array);
    };
  }
  async push(data: Uint8Array) {
    if (this.state.ended || data.length === 0) return { output: [], consumed: 0, ended: this.state.ended };
    this.inf.push(data, false);
    if (this.inf.err) throw new Error(`inflate: ${this.inf.msg || this.inf.err}`);
    const left = this.state.ended ? (this.inf as unknown as { strm: { avail_in: number } }).strm.avail_in : 0;
    const output = this.out;
    this.out = [];
    return { output, consumed: data.length - left, ended: this.state.ended };
  }
  async finish() {
    if (!this.state.ended) {
      this.inf.push(new Uint8Array(0), true);
      if (this.inf.err || !this.state.ended)
        throw new Error(`inflate: ${this.inf.msg || 'unexpected end of data'}`);
    }
    const output = this.out;
    this.out = [];
    return { output, ended: true };
  }
  close() {}
}

export const webPlatform: Platform = {
  name: 'web',
  hmacSha256(key: Uint8Array): MacStream {
    const h = hmac.create(sha256, key);
    return { update: (d) => void h.update(d), digest: () => h.digest() };
  },
  sha256: () => nobleHash(sha256.create()),
  // Browsers: hashed inline (a Web Worker would need a separate bundle entry).
  sha256Offloaded: () => inlineSha256(webPlatform),
  incrementalMacOffloaded: (macKey, chunkSize) => inlineIncrementalMac(webPlatform, macKey, chunkSize),
  aesCbcEncrypt: webCbcEncrypt,
  aesCbcDecrypt: webCbcDecrypt,
  decryptStep: Number.POSITIVE_INFINITY,
  // CompressionStream has no level; browsers use zlib's default (6).
  gzip: (input) => webGzip(input),
  rawInflater: () => new PakoRawInflater(),
  crc32,
};

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
