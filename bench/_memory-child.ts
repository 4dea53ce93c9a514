// Child process of bench/memory.ts: one client operation (generate, backup, verify, restore) in a
// fresh process, reporting its time and peak RSS as JSON on stdout. bench/memory.ts bundles this
// file with the CLI's bundler (packages/cli/src/bundle.ts) and runs it with plain `node`, as
// bin/coffer.js runs the bundled CLI: the figures are those of compiled JavaScript, not of tsx.
import { once } from 'node:events';
import { createWriteStream, readFileSync, renameSync, rmSync } from 'node:fs';
import { generateIntoStore, SqliteChatStore } from '@coffer/chatstore';
import { deriveBackupKeys, openSealedBackup, sealedBackupStream } from '@coffer/client';
import { closeGzipWorkers, openBackup, sealedFileSource } from '@coffer/crypto';
import { BackupValidator, readBackupSlices } from '@coffer/format';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const RECOVERY_KEY = 'a'.repeat(64);
const ACI = '5f1a6a2e-6c0b-4b3f-9a57-2d1c3f7e8a90';
const keys = deriveBackupKeys(RECOVERY_KEY, ACI);
const MEDIA_ROOT = new Uint8Array(32).fill(7);

/**
 * Peak resident memory of this process: VmHWM on Linux (ru_maxrss survives execve, so a child of a
 * large parent would report at least the parent's size), elsewhere resourceUsage().maxRSS.
 */
export function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {}
  return process.resourceUsage().maxRSS * 1024;
}

export type ChildResult = { ms: number; maxRss: number; stages?: Record<string, number>; items?: number };

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
    // As `coffer verify` reads the file.
    const src = await sealedFileSource(opt('in') as string);
    const opened = await openSealedBackup(src, keys.messageKey);
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
 * clock around each stage as seen from the restore loop. readBackupSlices reads one chunk ahead,
 * so decryption and gunzip of the next chunk overlap validation and import of this one; the stage
 * 'open+decode' is therefore the time the loop waited for the next batch (MAC pass excluded:
 * 'mac' is the wait for the first decrypted chunk, which comes only after the whole-file MAC).
 */
async function instrumentedRestore(input: string, storeDir: string): Promise<Record<string, number>> {
  const st = { mac: 0, 'decrypt+gunzip+decode': 0, validate: 0, import: 0, commit: 0 };
  const store = await SqliteChatStore.open(storeDir);
  const validator = new BackupValidator({ purpose: 'remote-backup' });
  const session = await store.beginImport();
  // As `coffer restore --from` and a downloaded backup read it.
  const source = await sealedFileSource(input);
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
  const slices = readBackupSlices(timedOpen())[Symbol.asyncIterator]();
  for (;;) {
    const t = performance.now();
    const r = await slices.next();
    st['decrypt+gunzip+decode'] += performance.now() - t;
    if (r.done) break;
    // Frames decode as this loop asks for them (readBackupSlices): that is timed here too.
    const items = r.value[Symbol.iterator]();
    for (;;) {
      const td = performance.now();
      const n = items.next();
      st['decrypt+gunzip+decode'] += performance.now() - td;
      if (n.done) break;
      const it = n.value;
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

await childMain(opt('child') ?? 'none');
