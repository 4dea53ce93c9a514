// spec 3.2 step 4, made strict: read exactly ONE gzip member (RFC 1952), check its CRC-32 and
// length, and require that everything after it is zero padding (spec 3.3 step 3). libsignal
// ignores bytes after the member; no writer puts anything but zeros there, so a non-zero byte
// (say, a second member) means the file was not written by a Signal-compatible writer.
import { CofferError } from './errors.ts';
import type { Platform } from './platform.ts';

const MAX_HEADER = 64 * 1024;
/** Feed the inflater at most this much at a time, bounding the output held per step. */
const FEED = 64 * 1024;

export async function* gunzipStrict(
  input: AsyncIterable<Uint8Array>,
  platform: Platform,
): AsyncGenerator<Uint8Array> {
  const inflater = platform.rawInflater();
  let state: 'header' | 'body' | 'trailer' | 'padding' = 'header';
  let head: Uint8Array = new Uint8Array(0);
  const trailer = new Uint8Array(8);
  let trailerFill = 0;
  let crc = 0;
  let size = 0;
  try {
    for await (const chunk of input) {
      let data: Uint8Array = chunk;
      while (data.length > 0) {
        if (state === 'header') {
          head = concat(head, data);
          const end = gzipHeaderLength(head);
          if (end === undefined) {
            if (head.length > MAX_HEADER) throw corrupt('the gzip header is too long');
            data = new Uint8Array(0);
            continue;
          }
          data = head.subarray(end);
          head = new Uint8Array(0);
          state = 'body';
        } else if (state === 'body') {
          const piece = data.subarray(0, FEED);
          const r = await inflater.push(piece).catch((e: unknown) => {
            throw corrupt('the compressed data is invalid', e);
          });
          for (const o of r.output) {
            crc = platform.crc32(o, crc);
            size += o.length;
            yield o;
          }
          data = data.subarray(r.consumed);
          if (r.ended) state = 'trailer';
        } else if (state === 'trailer') {
          const n = Math.min(8 - trailerFill, data.length);
          trailer.set(data.subarray(0, n), trailerFill);
          trailerFill += n;
          data = data.subarray(n);
          if (trailerFill === 8) {
            checkTrailer(trailer, crc, size);
            state = 'padding';
          }
        } else {
          for (let i = 0; i < data.length; i++) {
            if (data[i] !== 0)
              throw corrupt('non-zero bytes follow the compressed data (expected zero padding)');
          }
          data = new Uint8Array(0);
        }
      }
    }
    if (state === 'header') throw corrupt('the compressed data ends inside the gzip header');
    if (state === 'body') {
      const r = await inflater.finish().catch((e: unknown) => {
        throw corrupt('the compressed data ends early', e);
      });
      for (const o of r.output) {
        crc = platform.crc32(o, crc);
        size += o.length;
        yield o;
      }
      state = 'trailer';
    }
    if (state === 'trailer') throw corrupt('the compressed data ends inside the gzip trailer');
  } finally {
    inflater.close();
  }
}

/** Length of a complete gzip header at the start of `b`, or undefined if more bytes are needed. */
function gzipHeaderLength(b: Uint8Array): number | undefined {
  if (b.length < 10) {
    if (b.length >= 1 && b[0] !== 0x1f) throw corrupt('not gzip data');
    if (b.length >= 2 && b[1] !== 0x8b) throw corrupt('not gzip data');
    return undefined;
  }
  if (b[0] !== 0x1f || b[1] !== 0x8b) throw corrupt('not gzip data');
  if (b[2] !== 8) throw corrupt('unknown gzip compression method');
  const flg = b[3] as number;
  if (flg & 0xe0) throw corrupt('reserved gzip header flags are set');
  let p = 10;
  if (flg & 4) {
    if (b.length < p + 2) return undefined;
    p += 2 + ((b[p] as number) | ((b[p + 1] as number) << 8));
    if (b.length < p) return undefined;
  }
  for (const bit of [8, 16]) {
    if (flg & bit) {
      const z = b.indexOf(0, p);
      if (z < 0) return undefined;
      p = z + 1;
    }
  }
  if (flg & 2) {
    p += 2;
    if (b.length < p) return undefined;
  }
  return p;
}

function checkTrailer(t: Uint8Array, crc: number, size: number): void {
  const dv = new DataView(t.buffer, t.byteOffset, 8);
  if (dv.getUint32(0, true) !== crc >>> 0) throw corrupt('the gzip checksum does not match');
  if (dv.getUint32(4, true) !== size % 2 ** 32) throw corrupt('the gzip length does not match');
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function corrupt(reason: string, cause?: unknown): CofferError {
  return new CofferError(
    'COFFER_ERR_BACKUP_CORRUPT',
    'the backup file is damaged: it decrypted, but its contents are not a valid compressed backup',
    cause === undefined
      ? { details: { part: 'gzip', reason } }
      : { cause, details: { part: 'gzip', reason } },
  );
}
