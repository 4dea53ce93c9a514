// Node: SHA-256 on a worker thread, so media sealing/opening can hash the plaintext and the blob
// beside the AES-CBC + HMAC work of the main thread (issue 8: media at >= 80% of openssl, which
// runs `enc` and `dgst` as two processes). Chunks are copied (never a whole backing buffer) and
// transferred; at most MAX_QUEUED bytes wait in the worker's queue, so memory stays bounded.
import { Worker } from 'node:worker_threads';
import type { AsyncHashStream } from './platform.ts';

const MAX_QUEUED = 8 * 1024 * 1024;

const SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'update') {
    let h = hashes.get(m.id);
    if (!h) { h = createHash('sha256'); hashes.set(m.id, h); }
    h.update(m.data);
    parentPort.postMessage({ op: 'ack', id: m.id, n: m.data.length });
  } else if (m.op === 'digest') {
    const h = hashes.get(m.id) || createHash('sha256');
    hashes.delete(m.id);
    const d = new Uint8Array(h.digest());
    parentPort.postMessage({ op: 'digest', id: m.id, d }, [d.buffer]);
  } else if (m.op === 'drop') {
    hashes.delete(m.id);
  }
});
`;

let worker: Worker | undefined;
let nextId = 1;
let active = 0;
interface HashState {
  queued: number;
  drained?: (() => void) | undefined;
  digest?: (d: Uint8Array) => void;
}
const waiters = new Map<number, HashState>();

function getWorker(): Worker {
  if (worker === undefined) {
    const w = new Worker(SOURCE, { eval: true });
    w.on('message', (m: { op: string; id: number; n?: number; d?: Uint8Array }) => {
      const s = waiters.get(m.id);
      if (!s) return;
      if (m.op === 'ack') {
        s.queued -= m.n ?? 0;
        if (s.queued <= MAX_QUEUED / 2 && s.drained) {
          const d = s.drained;
          s.drained = undefined;
          d();
        }
      } else if (m.op === 'digest' && m.d) {
        waiters.delete(m.id);
        s.digest?.(m.d);
        if (--active === 0) w.unref();
      }
    });
    w.on('error', () => {
      worker = undefined;
    });
    w.unref();
    worker = w;
  }
  return worker;
}

export function offloadedSha256(): AsyncHashStream {
  const w = getWorker();
  const id = nextId++;
  const state: HashState = { queued: 0 };
  waiters.set(id, state);
  if (active++ === 0) w.ref();
  let finished = false;
  return {
    async update(data: Uint8Array) {
      if (data.length === 0) return;
      const copy = data.slice();
      state.queued += copy.length;
      w.postMessage({ op: 'update', id, data: copy }, [copy.buffer]);
      if (state.queued > MAX_QUEUED) {
        await new Promise<void>((resolve) => {
          state.drained = resolve;
        });
      }
    },
    digest() {
      finished = true;
      return new Promise<Uint8Array>((resolve) => {
        state.digest = resolve;
        w.postMessage({ op: 'digest', id });
      });
    },
    dispose() {
      if (finished) return;
      finished = true;
      waiters.delete(id);
      w.postMessage({ op: 'drop', id });
      if (--active === 0) w.unref();
    },
  };
}

export async function closeHashWorker(): Promise<void> {
  const w = worker;
  worker = undefined;
  await w?.terminate();
}
