// End-to-end benchmark: back up and restore a large history over loopback through a real Coffer
// server in its own process (`coffer serve`), so the memory figures are the client's alone.
//
//   npm run bench -- e2e                                   # 1,000,000 messages, 1 GB of media
//   npm run bench -- e2e --messages 100000 --media 50 --media-bytes 100000000
//
// Prints, per phase: wall time, MB/s (of the bytes that phase moves) and the client's peak RSS and
// heap during the phase. Not a test; nothing is asserted beyond "the restored history is equal".
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateIntoStore, SqliteChatStore } from '@coffer/chatstore';
import { CofferClient } from '@coffer/client';
import { FileKeyStore, nodePlatform } from '@coffer/client/node';
import { report } from './_report.ts';

const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    chats: { type: 'string', default: '50' },
    media: { type: 'string', default: '200' },
    'media-bytes': { type: 'string', default: String(1_000_000_000) },
    port: { type: 'string', default: '27900' },
    concurrency: { type: 'string', default: '4' },
    keep: { type: 'boolean', default: false },
  },
});
const messages = Number(args.messages);
const mediaCount = Number(args.media);
const mediaBytes = Number(args['media-bytes']);
const port = Number(args.port);

const root = mkdtempSync(join(tmpdir(), 'coffer-bench-e2e-'));
const bin = fileURLToPath(new URL('../packages/cli/bin/coffer.js', import.meta.url));

// --- memory sampling per phase ----------------------------------------------------------------
let peakRss = 0;
let peakHeap = 0;
const sampler = setInterval(() => {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed + m.external + m.arrayBuffers);
}, 25);
sampler.unref();

interface Row {
  phase: string;
  ms: number;
  bytes: number;
  rss: number;
  heap: number;
  note: string;
}
const rows: Row[] = [];
let phaseStart = 0;
let currentPhase = '';
function begin(phase: string): void {
  currentPhase = phase;
  phaseStart = performance.now();
  const m = process.memoryUsage();
  peakRss = m.rss;
  peakHeap = m.heapUsed + m.external + m.arrayBuffers;
}
function end(bytes: number, note = ''): void {
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  rows.push({
    phase: currentPhase,
    ms: performance.now() - phaseStart,
    bytes,
    rss: peakRss,
    heap: peakHeap,
    note,
  });
  process.stderr.write(
    `  ${currentPhase}: ${((performance.now() - phaseStart) / 1000).toFixed(1)} s ${note}\n`,
  );
}

async function startServer(): Promise<ChildProcess> {
  const config = join(root, 'server.json');
  writeFileSync(
    config,
    JSON.stringify({
      limits: { requestsPerMinutePerAddress: 10_000_000 },
      levels: { free: { mediaBytes: 1024 ** 4, mediaTtlDays: 45 } },
      logLevel: 'warn',
    }),
  );
  const child = spawn(
    process.execPath,
    [
      bin,
      'serve',
      '--data',
      join(root, 'server'),
      '--port',
      String(port),
      '--dev-outbox',
      '--no-web',
      '--config',
      config,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) return child;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('the server did not start');
}

async function device(name: string) {
  const store = await SqliteChatStore.open(join(root, name, 'chats'));
  const client = new CofferClient({
    store,
    keyStore: new FileKeyStore(join(root, name, 'keys')),
    serverUrl: `http://127.0.0.1:${port}`,
    platform: nodePlatform({ tmpDir: root }),
    mediaConcurrency: Number(args.concurrency),
  });
  return { store, client };
}

const server = await startServer();
try {
  process.stderr.write(
    `e2e benchmark: ${messages} messages, ${mediaCount} media files, ${(mediaBytes / 1e6).toFixed(0)} MB of media\n`,
  );
  const a = await device('a');
  begin('generate history');
  const gen = await generateIntoStore(a.store, {
    chats: Number(args.chats),
    messages,
    media: mediaCount,
    mediaSize: Math.max(1, Math.floor(mediaBytes / Math.max(1, mediaCount))),
    seed: 'bench-e2e',
  });
  end(gen.mediaBytes, `(${gen.mediaFiles} media files)`);

  const identifier = 'bench@example.org';
  await a.client.registerWithDevOutbox(identifier);
  const { recoveryKey } = await a.client.enableBackups();

  begin('backup messages (export+seal+upload)');
  let mediaPhaseAt = 0;
  const backup = await a.client.backupNow({
    onProgress: (e) => {
      if (e.phase === 'media' && mediaPhaseAt === 0) {
        mediaPhaseAt = performance.now();
        const m = process.memoryUsage();
        peakRss = Math.max(peakRss, m.rss);
        rows.push({
          phase: currentPhase,
          ms: mediaPhaseAt - phaseStart,
          bytes: -1,
          rss: peakRss,
          heap: peakHeap,
          note: '',
        });
        currentPhase = 'backup media (seal+upload)';
        phaseStart = mediaPhaseAt;
        peakRss = m.rss;
        peakHeap = m.heapUsed + m.external + m.arrayBuffers;
      }
    },
  });
  const messagesRow = rows.find((r) => r.bytes === -1);
  if (messagesRow) messagesRow.bytes = backup.bytes;
  end(backup.media.bytesUploaded, `(${backup.media.uploaded} objects)`);

  begin('second backup (nothing new)');
  const second = await a.client.backupNow();
  end(second.bytes, `(media uploaded: ${second.media.uploaded})`);

  const originalDigest = await a.store.digest({ media: true });
  a.store.close();

  const b = await device('b');
  await b.client.registerWithDevOutbox(identifier);
  begin('restore messages (download+verify+import)');
  const restored = await b.client.restore({ recoveryKey });
  end(restored.bytes, `(${restored.chatItems} messages)`);
  begin('restore media (download+open)');
  const media = await restored.media;
  end(media.bytes, `(${media.files} files, ${media.thumbnails} thumbnails, ${media.failed} failed)`);

  begin('verify (restore drill, no import)');
  const v = await b.client.verifyLatestBackup();
  end(v.bytes);

  const equal = (await b.store.digest({ media: true })) === originalDigest;
  b.store.close();

  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(
    `\n${pad('phase', 44)}${pad('wall s', 10)}${pad('MB', 10)}${pad('MB/s', 10)}${pad('peak RSS MB', 14)}peak heap+buffers MB`,
  );
  for (const r of rows) {
    const mbs = r.bytes / 1e6;
    console.log(
      pad(r.phase, 44) +
        pad((r.ms / 1000).toFixed(1), 10) +
        pad(mbs.toFixed(1), 10) +
        pad((mbs / (r.ms / 1000)).toFixed(1), 10) +
        pad((r.rss / 1e6).toFixed(0), 14) +
        (r.heap / 1e6).toFixed(0),
    );
  }
  console.log(
    `\nrestored history equal to the original (counts + digest incl. media): ${equal ? 'yes' : 'NO'}`,
  );
  if (!equal) process.exitCode = 1;
  // Rows for the combined table of `npm run bench` (bench/_report.ts).
  const secondMedia = second.media.bytesUploaded;
  report('e2e', [
    {
      what: `second backup, unchanged media (${mediaCount} files): media bytes uploaded`,
      coffer: `${secondMedia} B`,
      reference: `first backup ${(backup.media.bytesUploaded / 1e6).toFixed(1)} MB`,
      ratio: '',
      target: '0 B',
      met: secondMedia === 0 ? 'yes' : 'NO',
    },
    {
      what: `restore over loopback equals the original (${messages} messages + media)`,
      coffer: equal ? 'equal' : 'DIFFERENT',
      reference: 'digest incl. media',
      ratio: '',
      target: 'equal',
      met: equal ? 'yes' : 'NO',
    },
    ...rows.map((r) => ({
      what: `e2e ${r.phase}`,
      coffer: `${(r.ms / 1000).toFixed(1)} s`,
      reference: `${(r.bytes / 1e6 / (r.ms / 1000)).toFixed(1)} MB/s`,
      ratio: '',
      target: '(info)',
      met: '',
      note: `client peak RSS ${(r.rss / 1e6).toFixed(0)} MB (sampled in-process) ${r.note}`.trim(),
    })),
  ]);
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  if (!args.keep) rmSync(root, { recursive: true, force: true });
  else console.log(`kept ${root}`);
}
