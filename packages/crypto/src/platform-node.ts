// Node fast path of the platform seam: OpenSSL through node:crypto, zlib through node:zlib, and
// parallel DEFLATE in worker threads (gzip-parallel.ts).
import { createCipheriv, createDecipheriv, createHash, createHmac, type Hash } from 'node:crypto';
import { once } from 'node:events';
import zlib from 'node:zlib';
import { gzipParallel } from './gzip-parallel.ts';
import { offloadedIncrementalMac, offloadedSha256 } from './hash-offload.ts';
import type { CbcStream, HashStream, MacStream, Platform, RawInflater } from './platform.ts';

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

function cbc(mode: 'enc' | 'dec', key: Uint8Array, iv: Uint8Array): CbcStream {
  const c =
    mode === 'enc' ? createCipheriv('aes-256-cbc', key, iv) : createDecipheriv('aes-256-cbc', key, iv);
  return { update: (d) => u8(c.update(d)), final: () => u8(c.final()) };
}

function hashStream(h: Hash): HashStream {
  return {
    update: (d) => void h.update(d),
    digest: () => u8(h.digest()),
    copy: () => hashStream(h.copy()),
  };
}

/** Raw inflate on a zlib stream: after Z_STREAM_END, zlib ignores further input and `bytesWritten` stays put. */
class NodeRawInflater implements RawInflater {
  private readonly inf = zlib.createInflateRaw();
  private out: Uint8Array[] = [];
  private error: Error | undefined;
  private done = false;

  constructor() {
    this.inf.on('data', (d: Buffer) => this.out.push(u8(d)));
    this.inf.on('error', (e: Error) => {
      this.error = e;
    });
  }

  async push(data: Uint8Array) {
    if (this.done || data.length === 0) return { output: [], consumed: 0, ended: this.done };
    const before = this.inf.bytesWritten;
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error) => reject(e);
      this.inf.once('error', onError);
      this.inf.write(data, (e) => {
        this.inf.off('error', onError);
        if (e) reject(e);
        else resolve();
      });
    });
    if (this.error) throw this.error;
    const consumed = this.inf.bytesWritten - before;
    // Fewer bytes taken than given means zlib reached the end of the DEFLATE stream.
    if (consumed < data.length) this.done = true;
    const output = this.out;
    this.out = [];
    return { output, consumed, ended: this.done };
  }

  async finish() {
    if (!this.done) {
      const ended = once(this.inf, 'end');
      this.inf.end();
      this.inf.resume();
      await ended; // rejects with zlib's "unexpected end of file" if the stream is incomplete
      this.done = true;
    }
    const output = this.out;
    this.out = [];
    return { output, ended: true };
  }

  close() {
    this.inf.destroy();
  }
}

export const nodePlatform: Platform = {
  name: 'node',
  hmacSha256(key: Uint8Array): MacStream {
    const h = createHmac('sha256', key);
    return { update: (d) => void h.update(d), digest: () => u8(h.digest()) };
  },
  sha256: () => hashStream(createHash('sha256')),
  sha256Offloaded: offloadedSha256,
  incrementalMacOffloaded: offloadedIncrementalMac,
  aesCbcEncrypt: (key, iv) => cbc('enc', key, iv),
  aesCbcDecrypt: (key, iv) => cbc('dec', key, iv),
  // Restore of 1M messages, peak RSS: 16 KiB steps 86-88 MiB, 4 KiB the same, 32 KiB 124-128 MiB,
  // whole 64 KiB chunks 120 MiB. The price: about 4x more inflate round trips to the thread pool,
  // about 0.1 s per 38 MB sealed file, hidden behind validation and import (bench/README.md).
  decryptStep: 16 * 1024,
  gzip: (input, opts) => gzipParallel(input, opts),
  rawInflater: () => new NodeRawInflater(),
  crc32: (data, previous) => zlib.crc32(data, previous),
};
