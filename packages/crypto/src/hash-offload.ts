// Node: media hashing on worker threads (issue 8: media at >= 80% of `openssl enc | openssl dgst`,
// which hashes in a second process). Sealing runs AES-CBC on the main thread and the incremental
// HMAC (plus the optional SHA-256 digests) on up to three workers, so the passes overlap.
//
// Bytes reach a worker through a SharedArrayBuffer ring per worker: one memcpy into memory that
// is reused, then a small message {id, off, len}. The earlier version transferred a fresh copy of
// every chunk; allocating 1 MiB buffers again and again cost page faults (kernel time) that were
// larger than the copy itself. A worker handles its messages in order, so ring space is released
// in order (FIFO): the worker adds what it has hashed to a shared counter (no message back), and
// a writer waits on that counter (Atomics.waitAsync) only when the ring is full (bounded memory).
import { Worker } from 'node:worker_threads';
import type { AsyncHashStream, AsyncIncrementalMac } from './platform.ts';

// Atomics.waitAsync (Node 16+) is newer than the TypeScript lib this repository targets.
const waitAsync = (
  Atomics as unknown as {
    waitAsync(a: BigInt64Array, i: number, v: bigint): { async: boolean; value: unknown };
  }
).waitAsync;

const RING_BYTES = 4 * 1024 * 1024;
/**
 * Bytes are copied and announced in pieces of this size: the worker starts on the first quarter
 * of a 1 MiB chunk while the rest is still being copied. Measured against 1 MiB pieces (one per
 * chunk) and 2 MiB batches: same CPU time, and on the loaded machine faster in wall time than
 * the first and clearly faster than the second (bench/README.md, media notes).
 */
const PIECE = 256 * 1024;
/**
 * One worker per hash pass of a seal (incremental MAC, digest, plaintext hash): each pass is
 * sequential, so a pass sharing a thread with another would be the slowest stage of the pipeline.
 * The OS spreads the threads over the cores there are; on two cores the three passes (~1.5 ms/MB)
 * run beside AES-CBC (~1 ms/MB) instead of behind it.
 */
const MAX_WORKERS = 3;

// The worker's incremental MAC is the same construction as media-incremental-mac.ts (HMAC over a
// copyable SHA-256, a snapshot after every chunk); media.test.ts checks it against libsignal.
const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const ring = new Uint8Array(workerData.ring);
const released = new BigInt64Array(workerData.released);
const jobs = new Map();
function sha() {
  const h = createHash('sha256');
  return { update: (d) => h.update(d), digest: () => h.digest() };
}
function imac(key, chunkSize) {
  let k = key.length > 64 ? createHash('sha256').update(key).digest() : key;
  const ipad = Buffer.alloc(64, 0x36);
  const opad = Buffer.alloc(64, 0x5c);
  for (let i = 0; i < k.length; i++) { ipad[i] ^= k[i]; opad[i] ^= k[i]; }
  const inner = createHash('sha256').update(ipad);
  const snap = () => createHash('sha256').update(opad).update(inner.copy().digest()).digest();
  const digests = [];
  let inChunk = 0;
  return {
    update(d) {
      let o = 0;
      while (o < d.length) {
        const n = Math.min(chunkSize - inChunk, d.length - o);
        inner.update(d.subarray(o, o + n));
        inChunk += n;
        o += n;
        if (inChunk === chunkSize) { digests.push(snap()); inChunk = 0; }
      }
    },
    snapshot: snap,
    digest() { digests.push(snap()); return Buffer.concat(digests); },
  };
}
const reply = (id, d) => {
  const out = new Uint8Array(d);
  parentPort.postMessage({ op: 'reply', id, d: out }, [out.buffer]);
};
parentPort.on('message', (m) => {
  const job = jobs.get(m.id);
  if (m.op === 'data') {
    if (job) {
      const end = m.off + m.len;
      if (end <= ring.length) job.update(ring.subarray(m.off, end));
      else { job.update(ring.subarray(m.off)); job.update(ring.subarray(0, end - ring.length)); }
    }
    Atomics.add(released, 0, BigInt(m.len));
    Atomics.notify(released, 0);
  } else if (m.op === 'sha256') jobs.set(m.id, sha());
  else if (m.op === 'imac') jobs.set(m.id, imac(m.key, m.chunkSize));
  else if (m.op === 'snapshot') reply(m.id, job.snapshot());
  else if (m.op === 'digest') { jobs.delete(m.id); reply(m.id, job.digest()); }
  else if (m.op === 'drop') jobs.delete(m.id);
});
`;

class HashWorker {
  readonly worker: Worker;
  private readonly ring: Uint8Array;
  /** Bytes ever written to the ring, and (shared, advanced by the worker) ever released. */
  private written = 0;
  private readonly released: BigInt64Array;
  private readonly replies = new Map<
    number,
    { resolve: (d: Uint8Array) => void; reject: (e: Error) => void }
  >();
  private failure: Error | undefined;
  jobs = 0;

  constructor(private readonly onDead: (w: HashWorker) => void) {
    const sab = new SharedArrayBuffer(RING_BYTES);
    const counter = new SharedArrayBuffer(8);
    this.ring = new Uint8Array(sab);
    this.released = new BigInt64Array(counter);
    this.worker = new Worker(SOURCE, { eval: true, workerData: { ring: sab, released: counter } });
    this.worker.on('message', (m: { id: number; d: Uint8Array }) => {
      const r = this.replies.get(m.id);
      this.replies.delete(m.id);
      this.unrefWhenIdle();
      r?.resolve(m.d);
    });
    const die = (e: Error) => {
      this.failure = e;
      for (const r of this.replies.values()) r.reject(e);
      this.replies.clear();
      Atomics.notify(this.released, 0); // wakes a writer waiting for room, which then throws
      this.onDead(this);
    };
    this.worker.on('error', die);
    this.worker.on('exit', () => die(new Error('the hash worker stopped')));
    this.worker.unref();
  }

  open(id: number, msg: Record<string, unknown>): void {
    if (this.jobs++ === 0) this.worker.ref();
    this.worker.postMessage({ ...msg, id });
  }

  close(id: number, drop: boolean): void {
    if (drop) this.worker.postMessage({ op: 'drop', id });
    this.jobs--;
    this.unrefWhenIdle();
  }

  /** An idle worker must not keep the process alive; one with a reply to come must. */
  private unrefWhenIdle(): void {
    if (this.jobs === 0 && this.replies.size === 0) this.worker.unref();
  }

  /** Copies `data` into the ring for job `id`; waits only while the ring is full. */
  async write(id: number, data: Uint8Array): Promise<void> {
    for (let o = 0; o < data.length; ) {
      const n = Math.min(PIECE, data.length - o);
      for (;;) {
        if (this.failure) throw this.failure;
        const released = Atomics.load(this.released, 0);
        if (this.written + n - Number(released) <= RING_BYTES) break;
        // Several jobs may share this worker: each waiter re-checks after a wake-up.
        const w = waitAsync(this.released, 0, released);
        if (w.async) await w.value;
      }
      if (this.failure) throw this.failure;
      const off = this.written % RING_BYTES;
      const first = Math.min(n, RING_BYTES - off);
      this.ring.set(data.subarray(o, o + first), off);
      if (first < n) this.ring.set(data.subarray(o + first, o + n), 0);
      this.worker.postMessage({ op: 'data', id, off, len: n });
      this.written += n;
      o += n;
    }
  }

  request(id: number, op: 'snapshot' | 'digest'): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Uint8Array>((resolve, reject) => {
      this.replies.set(id, { resolve, reject });
      this.worker.postMessage({ op, id });
    });
  }
}

const pool: HashWorker[] = [];
let nextId = 1;

/** The worker with the fewest open jobs (a new one while the pool is below its size). */
function pickWorker(): HashWorker {
  const idle = pool.find((w) => w.jobs === 0);
  if (idle) return idle;
  if (pool.length < MAX_WORKERS) {
    const w = new HashWorker((dead) => {
      const i = pool.indexOf(dead);
      if (i >= 0) pool.splice(i, 1);
    });
    pool.push(w);
    return w;
  }
  return pool.reduce((a, b) => (b.jobs < a.jobs ? b : a));
}

function job(msg: Record<string, unknown>) {
  const w = pickWorker();
  const id = nextId++;
  w.open(id, msg);
  let closed = false;
  return {
    update: (data: Uint8Array) => (data.length === 0 ? Promise.resolve() : w.write(id, data)),
    snapshot: () => w.request(id, 'snapshot'),
    digest() {
      closed = true;
      const d = w.request(id, 'digest');
      w.close(id, false);
      return d;
    },
    dispose() {
      if (closed) return;
      closed = true;
      w.close(id, true);
    },
  };
}

export function offloadedSha256(): AsyncHashStream {
  const j = job({ op: 'sha256' });
  return { update: j.update, digest: j.digest, dispose: j.dispose };
}

export function offloadedIncrementalMac(macKey: Uint8Array, chunkSize: number): AsyncIncrementalMac {
  const j = job({ op: 'imac', key: macKey.slice(), chunkSize });
  return { update: j.update, snapshot: j.snapshot, finish: j.digest, dispose: j.dispose };
}

export async function closeHashWorker(): Promise<void> {
  const all = pool.splice(0);
  await Promise.all(all.map((w) => w.worker.terminate()));
}
