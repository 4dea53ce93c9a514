// Memory stays flat for any size (issue 2): seal ~200 MB streamed to a file, open it streamed,
// and check that the process's peak RSS grew by far less than the data.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { closeGzipWorkers, fileSource, openBackup, sealBackup } from '../src/index.ts';
import { ACI_1, AEP_M, messageBackupKey } from './_seal-helpers.ts';

const TOTAL = 200 * 1024 * 1024;
const key = messageBackupKey(AEP_M, ACI_1);
let dir: string | undefined;
afterAll(async () => {
  await closeGzipWorkers();
  if (dir) await rm(dir, { recursive: true, force: true });
});

let earlyPeak = 0;

/** Peak RSS: VmHWM (ru_maxrss would include the peak of the process that spawned this worker). */
function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error('no VmHWM in /proc/self/status');
  return Number(m[1]) * 1024;
}

function* plaintext(hash: ReturnType<typeof createHash>): Generator<Uint8Array> {
  const base = new Uint8Array(1 << 16);
  let x = 7;
  for (let i = 0; i < base.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    base[i] = 97 + ((x >>> 16) % 26);
  }
  for (let n = 0; n < TOTAL; n += base.length) {
    const chunk = base.slice();
    new DataView(chunk.buffer).setUint32(0, n); // every chunk differs a little
    hash.update(chunk);
    if (n === TOTAL / 4) earlyPeak = peakRss();
    yield chunk;
  }
}

it('seals and opens 200 MB with a small, bounded RSS growth', { timeout: 300_000 }, async () => {
  dir = await mkdtemp(join(tmpdir(), 'coffer-seal-mem-'));
  const path = join(dir, 'backup.bin');
  const before = process.memoryUsage().rss;
  const inHash = createHash('sha256');
  const out = createWriteStream(path);
  for await (const chunk of sealBackup(plaintext(inHash), key)) {
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const outHash = createHash('sha256');
  let n = 0;
  for await (const chunk of openBackup(await fileSource(path), key)) {
    outHash.update(chunk);
    n += chunk.length;
  }
  expect(n).toBe(TOTAL);
  expect(outHash.digest('hex')).toBe(inHash.digest('hex'));
  const peak = peakRss();
  const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;
  console.log(
    `RSS: start ${mib(before)}, peak after 50 MB ${mib(earlyPeak)}, peak after 200 MB + open ${mib(peak)}`,
  );
  // Flat: the last 150 MB of sealing and all of opening add little to the peak reached after 50 MB.
  expect(peak - earlyPeak).toBeLessThan(48 * 1024 * 1024);
  // Bounded: worker threads, 1 MiB blocks in flight and not-yet-collected buffers, far below 200 MB.
  expect(peak - before).toBeLessThan(160 * 1024 * 1024);
});
