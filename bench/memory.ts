// npm run bench -- memory [--messages 100000,1000000] [--quick] [--media 200]
//
// Client memory and restore time on a generated history in the reference chat store
// (@coffer/chatstore). For each history size, in a fresh child process each (peak RSS is the
// process's VmHWM, which covers its whole life):
//   backup  - SqliteChatStore.exportFrames -> @coffer/client sealedBackupStream -> file
//   verify  - @coffer/client openSealedBackup(fileSource) (MAC, decrypt, gunzip, frames, validation)
//   restore - the same steps as openSealedBackup(..., { into: store }) with a clock around each
//             stage (MAC pass, decrypt + gunzip + frame decoding, validation, import, commit)
// Then a table: peak RSS per operation and size against the 200 MB target, growth from the
// smallest to the largest size against the 10% target, and restore time with per-stage shares.
// Generated stores are cached in $TMPDIR/coffer-bench-stores (same seed -> same history).
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateIntoStore, SqliteChatStore } from '@coffer/chatstore';
import { deriveBackupKeys, openSealedBackup, sealedBackupStream } from '@coffer/client';
import { closeGzipWorkers, fileSource, openBackup } from '@coffer/crypto';
import { BackupValidator, readBackupBatches } from '@coffer/format';
import { type BenchRow, report } from './_report.ts';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes('--quick');
const RECOVERY_KEY = 'a'.repeat(64);
const ACI = '5f1a6a2e-6c0b-4b3f-9a57-2d1c3f7e8a90';
const keys = deriveBackupKeys(RECOVERY_KEY, ACI);
const MEDIA_ROOT = new Uint8Array(32).fill(7);

/**
 * Peak resident memory of this process: VmHWM on Linux (ru_maxrss survives execve, so a child of a
 * large parent would report at least the parent's size), elsewhere resourceUsage().maxRSS.
 */
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {}
  return process.resourceUsage().maxRSS * 1024;
}

// ------------------------------------------------------------------ child mode
type ChildResult = { ms: number; maxRss: number; stages?: Record<string, number>; items?: number };

async function childMain(mode: string): Promise<void> {
  const t0 = performance.now();
  const out: ChildResult = { ms: 0, maxRss: 0 };
  if (mode === 'generate') {
    const dir = opt('store') as string;
    const tmp = `${dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    const store = await SqliteChatStore.open(tmp);
    await generateIntoStore(store, {
      chats: 200,
      messages: Number(opt('messages')),
      media: Number(opt('media') ?? 200),
      mediaSize: 4096,
      seed: 'coffer-bench',
    });
    store.close();
    renameSync(tmp, dir);
  } else if (mode === 'backup') {
    const store = await SqliteChatStore.open(opt('store') as string);
    const file = createWriteStream(opt('out') as string);
    for await (const c of sealedBackupStream(store, keys.messageKey, { mediaRootKey: MEDIA_ROOT, now: 1 })) {
      if (!file.write(c)) await once(file, 'drain');
    }
    file.end();
    await once(file, 'finish');
    store.close();
  } else if (mode === 'verify') {
    const opened = await openSealedBackup(await fileSource(opt('in') as string), keys.messageKey);
    out.items = opened.summary.chatItems;
  } else if (mode === 'restore') {
    out.stages = await instrumentedRestore(opt('in') as string, opt('store') as string);
  }
  out.ms = performance.now() - t0;
  await closeGzipWorkers();
  out.maxRss = peakRss();
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
}

/**
 * openSealedBackup(source, key, { into }) step by step (the same calls in the same order), with a
 * clock around each stage as seen from the restore loop. readBackupBatches reads one chunk ahead,
 * so decryption and gunzip of the next chunk overlap validation and import of this one; the stage
 * 'open+decode' is therefore the time the loop waited for the next batch (MAC pass excluded:
 * 'mac' is the wait for the first decrypted chunk, which comes only after the whole-file MAC).
 */
async function instrumentedRestore(input: string, storeDir: string): Promise<Record<string, number>> {
  const st = { mac: 0, 'decrypt+gunzip+decode': 0, validate: 0, import: 0, commit: 0 };
  const store = await SqliteChatStore.open(storeDir);
  const validator = new BackupValidator({ purpose: 'remote-backup' });
  const session = await store.beginImport();
  const source = await fileSource(input);
  let macDone = 0;
  async function* timedOpen(): AsyncGenerator<Uint8Array> {
    const t = performance.now();
    let first = true;
    for await (const c of openBackup(source, keys.messageKey)) {
      if (first) macDone = performance.now() - t;
      first = false;
      yield c;
    }
  }
  const batches = readBackupBatches(timedOpen())[Symbol.asyncIterator]();
  for (;;) {
    const t = performance.now();
    const r = await batches.next();
    st['decrypt+gunzip+decode'] += performance.now() - t;
    if (r.done) break;
    for (const it of r.value) {
      if (it.kind === 'info') {
        const tv = performance.now();
        validator.addInfo(it.info);
        st.validate += performance.now() - tv;
      } else {
        const tv = performance.now();
        validator.addFrame(it.frame, it);
        const ti = performance.now();
        st.validate += ti - tv;
        await session.addFrame(it.frame);
        st.import += performance.now() - ti;
      }
    }
  }
  st.mac = macDone;
  st['decrypt+gunzip+decode'] -= macDone;
  const tv = performance.now();
  validator.finish();
  st.validate += performance.now() - tv;
  const tc = performance.now();
  await session.commit();
  st.commit += performance.now() - tc;
  store.close();
  return st;
}

if (opt('child')) await childMain(opt('child') as string);

// ------------------------------------------------------------------ parent
function child(mode: string, extra: string[]): ChildResult {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ['--import', 'tsx', self, '--child', mode, ...extra], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`memory bench child '${mode}' failed (status ${r.status})`);
  return JSON.parse(r.stdout) as ChildResult;
}

const sizes = (opt('messages') ?? (quick ? '10000,100000' : '100000,1000000'))
  .split(',')
  .map((s) => Number(s.replace(/_/g, '')));
const MEDIA = opt('media') ?? '200';
const cacheDir = join(tmpdir(), 'coffer-bench-stores');
mkdirSync(cacheDir, { recursive: true });
const work = await mkdtemp(join(tmpdir(), 'coffer-bench-memory-'));
const MiB = (b: number) => `${(b / 1048576).toFixed(0)} MiB`;
const LIMIT = 200 * 1e6; // "under 200 MB"
const results: Array<{
  n: number;
  backup: ChildResult;
  verify: ChildResult;
  restore: ChildResult;
  bytes: number;
}> = [];
try {
  for (const n of sizes) {
    const storeDir = join(cacheDir, `history-${n}-m${MEDIA}`);
    if (!existsSync(storeDir)) {
      const g = child('generate', ['--store', storeDir, '--messages', String(n), '--media', MEDIA]);
      console.log(`generated ${n.toLocaleString('en')} messages in ${(g.ms / 1000).toFixed(1)} s`);
    }
    const sealed = join(work, `backup-${n}.bin`);
    const backup = child('backup', ['--store', storeDir, '--out', sealed]);
    const bytes = (await stat(sealed)).size;
    const verify = child('verify', ['--in', sealed]);
    const target = join(work, `restored-${n}`);
    const restore = child('restore', ['--in', sealed, '--store', target]);
    await rm(target, { recursive: true, force: true });
    results.push({ n, backup, verify, restore, bytes });
    console.log(
      `${n.toLocaleString('en')} messages (${(bytes / 1e6).toFixed(1)} MB sealed): ` +
        `backup ${(backup.ms / 1000).toFixed(1)} s ${MiB(backup.maxRss)}, ` +
        `verify ${(verify.ms / 1000).toFixed(1)} s ${MiB(verify.maxRss)}, ` +
        `restore ${(restore.ms / 1000).toFixed(1)} s ${MiB(restore.maxRss)}`,
    );
  }
} finally {
  await rm(work, { recursive: true, force: true });
}

const rows: BenchRow[] = [];
const fmtN = (n: number) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);
for (const op of ['backup', 'verify', 'restore'] as const) {
  for (const r of results) {
    const rss = r[op].maxRss;
    rows.push({
      what: `peak RSS, ${op} of ${fmtN(r.n)} messages`,
      coffer: MiB(rss),
      reference: '200 MB',
      ratio: `${((rss / LIMIT) * 100).toFixed(0)}%`,
      target: '< 200 MB',
      met: rss < LIMIT ? 'yes' : 'NO',
    });
  }
  const lo = results[0];
  const hi = results[results.length - 1];
  if (lo && hi && hi !== lo) {
    const g = hi[op].maxRss / lo[op].maxRss - 1;
    rows.push({
      what: `peak RSS growth, ${op} ${fmtN(lo.n)} -> ${fmtN(hi.n)}`,
      coffer: MiB(hi[op].maxRss),
      reference: MiB(lo[op].maxRss),
      ratio: `${g >= 0 ? '+' : ''}${(g * 100).toFixed(1)}%`,
      target: '<= +10%',
      met: g <= 0.1 ? 'yes' : 'NO',
    });
  }
}
const big = results[results.length - 1];
if (big?.restore.stages) {
  const s = big.restore.stages;
  const total = Object.values(s).reduce((a, b) => a + b, 0);
  const shares = Object.entries(s)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${((v / total) * 100).toFixed(0)}%`)
    .join(', ');
  rows.push({
    what: `restore ${fmtN(big.n)} messages into chatstore`,
    coffer: `${(big.restore.ms / 1000).toFixed(1)} s`,
    reference: `${Math.round(big.n / (big.restore.ms / 1000)).toLocaleString('en')} msg/s`,
    ratio: '',
    target: '(report)',
    met: '',
    note: shares,
  });
}
report('memory', rows);
