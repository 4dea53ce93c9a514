// Streaming reader for the plaintext backup stream (spec 3.2 step 5, 3.4): a varint32 length
// prefix, then that many bytes of protobuf; the first message is BackupInfo, every later one a
// Frame, until EOF (no count, no terminator).
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { CofferError } from '@coffer/crypto';
import { decodeFrame } from './fast-decode.ts';
import { BackupInfo, type Frame } from './gen/Backup.ts';

/** Default cap on one message. Real frames are a few KiB at most; a long text body is inline. */
export const DEFAULT_MAX_FRAME_SIZE = 16 * 1024 * 1024;

export interface ReadOptions {
  /** Largest accepted message length in bytes, checked against the prefix before buffering. */
  maxFrameSize?: number;
}

/** The BackupInfo message (always the first item). `offset` is where its length prefix starts. */
export interface InfoItem {
  kind: 'info';
  info: BackupInfo;
  offset: number;
  size: number;
}

/** One Frame. `index` counts Frames from 0 (BackupInfo is not counted). */
export interface FrameItem {
  kind: 'frame';
  frame: Frame;
  index: number;
  offset: number;
  size: number;
}

export type BackupItem = InfoItem | FrameItem;

/** Anything that yields the plaintext stream in chunks (a single Uint8Array is one chunk). */
export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array;

/**
 * Push-style decoder (no I/O). `push` decodes every complete message in the bytes seen so far;
 * `finish` checks that the stream did not stop inside a message. Decoded messages keep views
 * into the pushed chunks (bytes fields are not copied), so callers must not reuse chunk buffers.
 */
export class FrameDecoder {
  readonly #max: number;
  #parts: Uint8Array[] = [];
  #partsLen = 0;
  /** Bytes that must be buffered before parsing is worth retrying (avoids O(n^2) concatenation). */
  #need = 1;
  /** Absolute stream offset of the first byte not yet decoded. */
  #offset = 0;
  /** Messages decoded so far, BackupInfo included. */
  #count = 0;
  /** The bytes being decoded: `#buf` from `#pos` on (`#offset` is the stream offset of `#buf[#pos]`). */
  #buf: Uint8Array | undefined;
  #pos = 0;
  #reader: BinaryReader | undefined;

  constructor(opts: ReadOptions = {}) {
    const max = opts.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    if (!Number.isSafeInteger(max) || max < 0)
      throw new RangeError('maxFrameSize must be a non-negative integer');
    this.#max = max;
  }

  /** Number of messages decoded so far (BackupInfo counts as one). */
  get messageCount(): number {
    return this.#count;
  }

  /** Bytes consumed into complete messages so far. */
  get bytesConsumed(): number {
    return this.#offset;
  }

  /** Decodes all complete messages now available and appends them to `out`. */
  push(chunk: Uint8Array, out: BackupItem[]): void {
    this.#load(chunk);
    for (let item = this.#next(); item !== undefined; item = this.#next()) out.push(item);
  }

  /**
   * Like `push`, but decodes each message only when the caller asks for it: iterate it to the end
   * before the next call. A caller that handles one frame at a time then never holds a batch of
   * freshly decoded frames; with whole batches alive at a scavenge, V8 judged the decoder's
   * allocation sites long-lived and began allocating every later frame in the old generation
   * (bench/README.md, restore memory).
   */
  decodeEach(chunk: Uint8Array): IterableIterator<BackupItem> {
    this.#load(chunk);
    const iterator: IterableIterator<BackupItem> = {
      next: () => {
        const value = this.#next();
        return value === undefined ? { done: true, value: undefined } : { done: false, value };
      },
      [Symbol.iterator]: () => iterator,
    };
    return iterator;
  }

  /** Takes a chunk; once enough bytes are buffered for the next message, makes them `#buf`. */
  #load(chunk: Uint8Array): void {
    if (this.#buf !== undefined) throw new Error('FrameDecoder: the previous chunk was not read to its end');
    if (chunk.length === 0) return;
    this.#parts.push(chunk);
    this.#partsLen += chunk.length;
    if (this.#partsLen < this.#need) return;
    this.#buf =
      this.#parts.length === 1 ? (this.#parts[0] as Uint8Array) : concat(this.#parts, this.#partsLen);
    this.#parts = [];
    this.#partsLen = 0;
    this.#need = 1;
    this.#pos = 0;
    this.#reader = undefined;
  }

  /** The next complete message of `#buf`, or undefined (the rest is kept for the next chunk). */
  #next(): BackupItem | undefined {
    const buf = this.#buf;
    if (buf === undefined) return undefined;
    const n = buf.length;
    const pos = this.#pos;
    if (pos === n) return this.#keepRest(buf, pos, 1);
    // spec 3.4: the prefix is a protobuf varint read as varint32 (at most 10 bytes).
    let len = 0;
    let mul = 1;
    let p = pos;
    let done = false;
    while (p < n && p - pos < 10) {
      const b = buf[p++] as number;
      len += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) {
        done = true;
        break;
      }
    }
    if (!done) {
      if (p - pos >= 10)
        throw this.#error('COFFER_ERR_FRAME_VARINT', this.#offset, 'has an invalid length prefix');
      return this.#keepRest(buf, pos, n - pos + 1);
    }
    // Checked before buffering: a hostile prefix cannot make us hold gigabytes.
    if (len > this.#max) {
      throw this.#error(
        'COFFER_ERR_FRAME_TOO_LARGE',
        this.#offset,
        `is ${len} bytes, more than the maximum of ${this.#max}`,
        {
          size: len,
          maxFrameSize: this.#max,
        },
      );
    }
    const end = p + len;
    if (end > n) return this.#keepRest(buf, pos, end - pos);
    this.#reader ??= new BinaryReader(buf);
    this.#reader.pos = p;
    const item = this.#decode(this.#reader, buf, len, this.#offset);
    this.#count++;
    this.#pos = end;
    this.#offset += end - pos;
    return item;
  }

  /** `#buf` is used up: keep its bytes from `pos` on and wait until `need` bytes are buffered. */
  #keepRest(buf: Uint8Array, pos: number, need: number): undefined {
    if (pos < buf.length) {
      this.#parts.push(pos === 0 ? buf : buf.subarray(pos));
      this.#partsLen = buf.length - pos;
    }
    this.#need = need;
    this.#buf = undefined;
    this.#reader = undefined;
    return undefined;
  }

  /** Call at end of input: throws if the stream ends inside a message or holds no BackupInfo. */
  finish(): void {
    if (this.#partsLen > 0) {
      const rest =
        this.#parts.length === 1 ? (this.#parts[0] as Uint8Array) : concat(this.#parts, this.#partsLen);
      let p = 0;
      while (p < rest.length && (rest[p] as number) >= 0x80) p++;
      const what =
        p >= rest.length ? 'ends inside its length prefix' : `ends after ${rest.length} of its bytes`;
      throw this.#error('COFFER_ERR_FRAME_TRUNCATED', this.#offset, what, { available: rest.length });
    }
    if (this.#count === 0) {
      throw new CofferError(
        'COFFER_ERR_BACKUP_NO_INFO',
        'The backup is empty: it has no BackupInfo message.',
        {
          details: { offset: 0 },
        },
      );
    }
  }

  #decode(reader: BinaryReader, buf: Uint8Array, len: number, offset: number): BackupItem {
    const start = reader.pos;
    try {
      // A shared reader over the whole chunk avoids a DataView per frame (4x faster decode, see
      // README); a nested length that runs past this message is caught by the position check.
      if (this.#count === 0) {
        const info = BackupInfo.decode(reader, len);
        if (reader.pos !== start + len) throw new Error('a nested field runs past the end of the message');
        return { kind: 'info', info, offset, size: len };
      }
      // Hand-written equivalent of Frame.decode for the chat-item hot path (src/fast-decode.ts).
      const frame = decodeFrame(reader, buf, len);
      if (reader.pos !== start + len) throw new Error('a nested field runs past the end of the message');
      return { kind: 'frame', frame, index: this.#count - 1, offset, size: len };
    } catch (err) {
      if (err instanceof CofferError) throw err;
      const reason = err instanceof Error ? err.message : String(err);
      throw this.#error(
        'COFFER_ERR_FRAME_DECODE',
        offset,
        `is not a valid ${this.#count === 0 ? 'BackupInfo' : 'Frame'} (${reason})`,
        {
          size: len,
          reason,
        },
      );
    }
  }

  #error(code: string, offset: number, what: string, extra: Record<string, unknown> = {}): CofferError {
    const isInfo = this.#count === 0;
    const where = isInfo ? 'The BackupInfo message' : `Frame ${this.#count - 1}`;
    return new CofferError(
      code,
      `${where} (at byte ${offset}) ${what}; the backup is damaged or not a Signal backup.`,
      {
        details: {
          frameIndex: isInfo ? null : this.#count - 1,
          message: isInfo ? 'BackupInfo' : 'Frame',
          offset,
          ...extra,
        },
      },
    );
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function* chunks(source: ByteSource): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    yield source;
    return;
  }
  if (!(Symbol.asyncIterator in source)) {
    for (const c of source as Iterable<Uint8Array>) {
      if (!(c instanceof Uint8Array)) throw new TypeError('backup source must yield Uint8Array chunks');
      yield c;
    }
    return;
  }
  // Read-ahead of one chunk: the next chunk is requested before this one is decoded, so the
  // source's asynchronous work (file reads, gunzip on libuv's thread pool) overlaps decoding,
  // validation and import on this thread instead of alternating with them.
  const it = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  let finished = false;
  try {
    let pending = it.next();
    for (;;) {
      const r = await pending;
      if (r.done) {
        finished = true;
        return;
      }
      const c = r.value;
      if (!(c instanceof Uint8Array)) throw new TypeError('backup source must yield Uint8Array chunks');
      pending = it.next();
      // Observed by the next await; if the consumer stops first, its rejection is dropped here.
      pending.catch(() => undefined);
      yield c;
    }
  } finally {
    // Stopped early (consumer returned or threw): let the source release what it holds.
    if (!finished) await it.return?.();
  }
}

/** Most input bytes decoded into one batch (see readBackupBatches). */
const BATCH_BYTES = 16 * 1024;

/**
 * Reads the stream in slices of at most 16 KiB of input, each an iterable that decodes its items
 * one at a time as it is iterated (FrameDecoder.decodeEach). Iterate each slice to its end before
 * asking for the next. One await per slice, not per frame, and no batch of decoded frames held:
 * the restore path uses it.
 */
export async function* readBackupSlices(
  source: ByteSource,
  opts: ReadOptions = {},
): AsyncGenerator<Iterable<BackupItem>> {
  const dec = new FrameDecoder(opts);
  for await (const c of chunks(source)) {
    // Large chunks (a 1 MiB one from a caller's own source) are decoded in slices: a batch then
    // holds about a hundred and fifty frames, not ten thousand, so they die young instead of
    // surviving a scavenge. Keeping them all alive at once made V8 grow the young generation and
    // promote garbage: +40 MiB peak RSS at 1M messages. 16 KiB rather than 64 KiB: about 5 % less
    // CPU for read + validate (bench/README.md, performance notes).
    for (let o = 0; o < c.length; o += BATCH_BYTES) {
      yield dec.decodeEach(o === 0 && c.length <= BATCH_BYTES ? c : c.subarray(o, o + BATCH_BYTES));
    }
  }
  dec.finish();
}

/**
 * Reads the stream in batches: one array of decoded items per 16 KiB of input that completed any.
 * This is the fast path (one await per chunk, not per frame); the validator uses it.
 */
export async function* readBackupBatches(
  source: ByteSource,
  opts: ReadOptions = {},
): AsyncGenerator<BackupItem[]> {
  const dec = new FrameDecoder(opts);
  for await (const c of chunks(source)) {
    // Sliced as in readBackupSlices (see there).
    for (let o = 0; o < c.length; o += BATCH_BYTES) {
      const out: BackupItem[] = [];
      dec.push(o === 0 && c.length <= BATCH_BYTES ? c : c.subarray(o, o + BATCH_BYTES), out);
      if (out.length > 0) yield out;
    }
  }
  dec.finish();
}

/** Reads the stream item by item: `{kind:'info'}` first, then `{kind:'frame', index, offset}`. */
export async function* readBackupItems(
  source: ByteSource,
  opts: ReadOptions = {},
): AsyncGenerator<BackupItem> {
  for await (const batch of readBackupBatches(source, opts)) yield* batch;
}

/** Reads the whole stream into memory (small backups, tests, conversions). */
export async function readBackupAll(
  source: ByteSource,
  opts: ReadOptions = {},
): Promise<{ info: BackupInfo; frames: Frame[] }> {
  let info: BackupInfo | undefined;
  const frames: Frame[] = [];
  for await (const batch of readBackupBatches(source, opts)) {
    for (const item of batch) {
      if (item.kind === 'info') info = item.info;
      else frames.push(item.frame);
    }
  }
  // finish() guarantees a BackupInfo was read.
  return { info: info as BackupInfo, frames };
}
