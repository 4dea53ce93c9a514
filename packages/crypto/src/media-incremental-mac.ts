// spec 5.1: the incremental MAC of an attachment blob (libsignal incremental_mac.rs): one running
// HMAC-SHA256 under the attachment's macKey over the WHOLE blob (IV || CT || mac); after every
// complete chunk a snapshot of the running MAC is emitted, and at the end the final MAC. The
// concatenation is `incrementalMac`. Built from SHA-256 with copy() so snapshots cost one
// finalisation each, not a second pass.
import type { AsyncHashStream, AsyncIncrementalMac, HashStream, Platform } from './platform.ts';

const KIB64 = 64 * 1024;
const MIB2 = 2 * 1024 * 1024;
const TARGET_DIGESTS = 256; // 8 KiB of digests / 32 bytes (libsignal's constant)

/** Chunk size for a blob of `blobLength` bytes: 64 KiB below 16 MiB, len/256 below 512 MiB, else 2 MiB. */
export function incrementalMacChunkSize(blobLength: number): number {
  if (!Number.isSafeInteger(blobLength) || blobLength < 0) {
    throw new RangeError(`blobLength must be a non-negative integer, got ${blobLength}`);
  }
  if (blobLength < TARGET_DIGESTS * KIB64) return KIB64;
  if (blobLength < TARGET_DIGESTS * MIB2) return Math.ceil(blobLength / TARGET_DIGESTS);
  return MIB2;
}

/** HMAC-SHA256 whose running value can be read at any point (RFC 2104 over a copyable SHA-256). */
export class SnapshotHmac {
  private readonly inner: HashStream;
  private readonly outerKey: Uint8Array;
  private readonly platform: Platform;

  constructor(platform: Platform, key: Uint8Array) {
    this.platform = platform;
    let k = key;
    if (k.length > 64) {
      const h = platform.sha256();
      h.update(k);
      k = h.digest();
    }
    const ipad = new Uint8Array(64).fill(0x36);
    const opad = new Uint8Array(64).fill(0x5c);
    for (let i = 0; i < k.length; i++) {
      ipad[i] = (ipad[i] as number) ^ (k[i] as number);
      opad[i] = (opad[i] as number) ^ (k[i] as number);
    }
    this.inner = platform.sha256();
    this.inner.update(ipad);
    this.outerKey = opad;
  }

  update(data: Uint8Array): void {
    this.inner.update(data);
  }

  /** The HMAC of everything so far; the running state is left untouched. */
  snapshot(): Uint8Array {
    const innerDigest = this.inner.copy().digest();
    const outer = this.platform.sha256();
    outer.update(this.outerKey);
    outer.update(innerDigest);
    return outer.digest();
  }
}

/** Feeds a blob through a SnapshotHmac, collecting a digest after every full chunk (spec 5.1). */
export class IncrementalMac {
  readonly chunkSize: number;
  private readonly mac: SnapshotHmac;
  private inChunk = 0;
  private readonly digests: Uint8Array[] = [];

  constructor(platform: Platform, macKey: Uint8Array, chunkSize: number) {
    this.mac = new SnapshotHmac(platform, macKey);
    this.chunkSize = chunkSize;
  }

  update(data: Uint8Array): void {
    let d = data;
    while (d.length > 0) {
      const n = Math.min(this.chunkSize - this.inChunk, d.length);
      this.mac.update(d.subarray(0, n));
      this.inChunk += n;
      d = d.subarray(n);
      if (this.inChunk === this.chunkSize) {
        this.digests.push(this.mac.snapshot());
        this.inChunk = 0;
      }
    }
  }

  /** The running HMAC so far (the attachment's own MAC is this value taken after IV || CT). */
  snapshot(): Uint8Array {
    return this.mac.snapshot();
  }

  /** All chunk digests plus the final one, concatenated. */
  finish(): Uint8Array {
    const all = [...this.digests, this.mac.snapshot()];
    const out = new Uint8Array(all.length * 32);
    all.forEach((d, i) => {
      out.set(d, i * 32);
    });
    return out;
  }
}

/** An IncrementalMac on the calling thread behind the async interface (browsers, small blobs). */
export function inlineIncrementalMac(
  platform: Platform,
  macKey: Uint8Array,
  chunkSize: number,
): AsyncIncrementalMac {
  const m = new IncrementalMac(platform, macKey, chunkSize);
  return {
    update: async (d) => m.update(d),
    snapshot: async () => m.snapshot(),
    finish: async () => m.finish(),
    dispose: () => {},
  };
}

/** SHA-256 on the calling thread behind the async interface (browsers, small blobs). */
export function inlineSha256(platform: Platform): AsyncHashStream {
  const h = platform.sha256();
  return { update: async (d) => h.update(d), digest: async () => h.digest(), dispose: () => {} };
}
