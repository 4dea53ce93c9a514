// Parallel DEFLATE into ONE standard gzip member (issue 8; INFRA-NOTES "Parallel gzip on Node 20"),
// the way pigz does it: the input is cut into blocks; each block is compressed on a worker thread
// with `deflateRawSync(block, {dictionary: last 32 KiB before it, finishFlush: Z_SYNC_FLUSH})`.
// A sync flush ends on a byte boundary, so the pieces concatenate into one valid DEFLATE stream;
// the dictionary lets matches reach back into the previous block exactly as a single-threaded
// compressor would, so the size stays within a few bytes per block of `gzip -6`. After the last
// block an empty final block (0x03 0x00) closes the stream; the CRC-32 and length trailer are
// computed on this thread as the input passes by.
//
// Node only (node:zlib, node:worker_threads). The worker source is evaluated from a string so
// workers need no TypeScript loader.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';

/** Block size: large enough that the per-block sync marker (5 bytes) and dictionary priming cost nothing. */
export const GZIP_BLOCK_SIZE = 1 << 20;
const WINDOW = 32 * 1024;

/** 10-byte gzip header: deflate, no flags, no mtime, XFL 0, OS 255 ("unknown": nothing about the writer). */
const GZIP_HEADER = Uint8Array.of(0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff);
/** A final fixed-Huffman block holding only end-of-block: closes a stream that ended with a sync flush. */
const FINAL_EMPTY_BLOCK = Uint8Array.of(0x03, 0x00);

const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const zlib = require('node:zlib');
parentPort.on('message', (job) => {
  try {
    // One output buffer larger than any DEFLATE expansion of the block, handed over whole: zlib's
    // default 16 KiB output pieces and their concatenation were about 0.8 MB of garbage per block
    // in this rarely collecting isolate, piling up until V8's external-memory limit (a 1M-message
    // backup peaked about 30 MiB higher; bench/README.md, performance notes > Memory).
    const opts = { level: job.level, memLevel: job.memLevel, finishFlush: zlib.constants.Z_SYNC_FLUSH,
      chunkSize: job.data.length + 65536 };
    if (job.dict) opts.dictionary = job.dict;
    const out = zlib.deflateRawSync(job.data, opts);
    // Transfer needs a buffer of our own (small results may sit in Node's 8 KiB shared pool).
    const u = out.byteOffset === 0 && out.buffer.byteLength >= 65536
      ? new Uint8Array(out.buffer, 0, out.byteLength)
      : new Uint8Array(out);
    // The input block goes back too, so the main thread can reuse it: no 1 MiB garbage per block
    // piles up in this isolate between its (rare) garbage collections.
    parentPort.postMessage({ id: job.id, out: u, data: job.data }, [u.buffer, job.data.buffer]);
  } catch (e) {
    parentPort.postMessage({ id: job.id, error: String(e && e.message || e) });
  }
});
`;

export interface GzipOptions {
  level: number;
  /** Number of worker threads (default: available cores, at most 8). 0 compresses on this thread. */
  workers?: number;
  blockSize?: number;
}

interface Job {
  resolve(out: Uint8Array): void;
  reject(err: Error): void;
}

/** Full-size block buffers handed back by the workers, reused for the next blocks. */
const spareBlocks: Uint8Array[] = [];
const MAX_SPARE = 16;

function takeBlock(size: number): Uint8Array {
  for (let b = spareBlocks.pop(); b !== undefined; b = spareBlocks.pop()) if (b.length === size) return b;
  return new Uint8Array(size);
}

/** A small pool of persistent compression workers, shared by every seal in the process. */
class DeflatePool {
  private readonly workers: Worker[] = [];
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;
  private next = 0;

  constructor(readonly size: number) {}

  compress(data: Uint8Array, dict: Uint8Array | undefined, level: number): Promise<Uint8Array> {
    if (this.workers.length === 0) this.start();
    const id = this.nextId++;
    const worker = this.workers[this.next++ % this.workers.length] as Worker;
    return new Promise<Uint8Array>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      if (this.jobs.size === 1) for (const w of this.workers) w.ref(); // keep the process alive while busy
      worker.postMessage({ id, data, dict, level, memLevel: 9 }, [data.buffer as ArrayBuffer]);
    });
  }

  private start(): void {
    for (let i = 0; i < this.size; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.on('message', (m: { id: number; out?: Uint8Array; data?: Uint8Array; error?: string }) => {
        if (m.data && spareBlocks.length < MAX_SPARE) spareBlocks.push(m.data);
        this.settle(m);
      });
      w.on('error', (e) => this.failAll(e));
      w.unref();
      this.workers.push(w);
    }
  }

  private settle(m: { id: number; out?: Uint8Array; error?: string }): void {
    const job = this.jobs.get(m.id);
    if (!job) return;
    this.jobs.delete(m.id);
    if (this.jobs.size === 0) for (const w of this.workers) w.unref();
    if (m.out) job.resolve(m.out);
    else job.reject(new Error(`deflate worker failed: ${m.error ?? 'unknown error'}`));
  }

  private failAll(e: Error): void {
    for (const job of this.jobs.values()) job.reject(e);
    this.jobs.clear();
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }

  /** Stops the workers (tests and benchmarks call it so the process can exit promptly). */
  async close(): Promise<void> {
    const ws = this.workers.splice(0);
    await Promise.all(ws.map((w) => w.terminate()));
  }
}

let pool: DeflatePool | undefined;
function getPool(size: number): DeflatePool {
  if (pool === undefined || pool.size !== size) {
    void pool?.close();
    pool = new DeflatePool(size);
  }
  return pool;
}

/** Terminates the shared worker pool (it restarts on the next use). */
export async function closeGzipWorkers(): Promise<void> {
  const p = pool;
  pool = undefined;
  await p?.close();
}

export function defaultGzipWorkers(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

/** gzip `input` as one member, compressing blocks in parallel. Output chunks are yielded in order. */
export async function* gzipParallel(
  input: AsyncIterable<Uint8Array>,
  opts: GzipOptions,
): AsyncGenerator<Uint8Array> {
  const blockSize = opts.blockSize ?? GZIP_BLOCK_SIZE;
  const workers = opts.workers ?? defaultGzipWorkers();
  const level = opts.level;
  const maxInFlight = Math.max(2, workers * 2);
  let crc = 0;
  let total = 0;
  let block = takeBlock(blockSize);
  let fill = 0;
  let dict: Uint8Array | undefined;
  const pending: Promise<Uint8Array>[] = [];

  const dispatch = (data: Uint8Array): void => {
    // The next block's dictionary, taken before `data` is transferred to a worker.
    const nextDict = data.length >= WINDOW ? data.slice(data.length - WINDOW) : joinTail(dict, data);
    let p: Promise<Uint8Array>;
    if (workers === 0) {
      p = Promise.resolve(deflateBlock(data, dict, level));
    } else {
      p = getPool(workers).compress(data, dict, level);
    }
    p.catch(() => {}); // awaited in order below; avoid an unhandled-rejection report meanwhile
    pending.push(p);
    dict = nextDict;
  };

  yield GZIP_HEADER;
  for await (const chunk of input) {
    crc = zlib.crc32(chunk, crc);
    total += chunk.length;
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(blockSize - fill, chunk.length - off);
      block.set(chunk.subarray(off, off + n), fill);
      fill += n;
      off += n;
      if (fill === blockSize) {
        dispatch(block);
        block = takeBlock(blockSize);
        fill = 0;
        while (pending.length >= maxInFlight) yield await (pending.shift() as Promise<Uint8Array>);
      }
    }
  }
  if (fill > 0) {
    // The last, partial block: small inputs never start a worker.
    const last = block.slice(0, fill);
    if (pending.length === 0) pending.push(Promise.resolve(deflateBlock(last, dict, level)));
    else dispatch(last);
  }
  while (pending.length > 0) yield await (pending.shift() as Promise<Uint8Array>);
  const trailer = new Uint8Array(10);
  trailer.set(FINAL_EMPTY_BLOCK, 0);
  const dv = new DataView(trailer.buffer);
  dv.setUint32(2, crc >>> 0, true);
  dv.setUint32(6, total % 2 ** 32, true); // ISIZE: length mod 2^32 (RFC 1952)
  yield trailer;
}

function deflateBlock(data: Uint8Array, dict: Uint8Array | undefined, level: number): Uint8Array {
  const opts: zlib.ZlibOptions = { level, memLevel: 9, finishFlush: zlib.constants.Z_SYNC_FLUSH };
  if (dict) opts.dictionary = dict;
  const out = zlib.deflateRawSync(data, opts);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

function joinTail(prev: Uint8Array | undefined, data: Uint8Array): Uint8Array {
  if (prev === undefined) return data.slice();
  const joined = new Uint8Array(Math.min(WINDOW, prev.length + data.length));
  const fromPrev = joined.length - data.length;
  joined.set(prev.subarray(prev.length - fromPrev), 0);
  joined.set(data, fromPrev);
  return joined;
}
