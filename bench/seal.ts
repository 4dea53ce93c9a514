// npm run bench -- seal [--mb 100] [--level 6] [--workers N] [--media-mb 100] [--media-repeat 5] [--media-only]
//
// Seals and opens a synthetic chat history (bench/_synthetic.ts) and prints, from the same run,
// Coffer's throughput against single-threaded `zlib.gzipSync` level 6 and against the shell
// pipeline `gzip -6 | openssl enc -aes-256-cbc | openssl dgst -sha256 -hmac` on the same bytes,
// the compressed size against gzip -6, and peak RSS of streaming seal / open in child processes.
// Then media sealing/opening against `openssl enc -aes-256-cbc` + HMAC on the same bytes, in
// alternating rounds (`--media-only`: only these). See bench/README.md.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import {
  bytesSource,
  closeGzipWorkers,
  DEFAULT_SEAL_LEVEL,
  fileSource,
  logPaddedSize,
  openAttachment,
  openBackup,
  type SealAttachmentOptions,
  type SealStats,
  sealAttachment,
  sealBackup,
} from '../packages/crypto/src/index.ts';
import { report } from './_report.ts';
import { syntheticHistory } from './_synthetic.ts';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i] as string;
  if (a.startsWith('--')) args.set(a.slice(2), process.argv[i + 1] ?? '');
}
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const key = { hmacKey: new Uint8Array(randomBytes(32)), aesKey: new Uint8Array(randomBytes(32)) };
const level = args.has('level') ? Number(args.get('level')) : DEFAULT_SEAL_LEVEL;
const workers = args.has('workers') ? Number(args.get('workers')) : undefined;

/**
 * Peak resident memory of this process. On Linux VmHWM from /proc (ru_maxrss survives execve, so a
 * child spawned by a large parent would report the parent's peak); elsewhere resourceUsage().
 */
function peakRss(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {}
  return process.resourceUsage().maxRSS * 1024;
}

// ---- child mode: streaming seal/open of files, reporting own time and peak RSS -------------------
if (args.has('child')) {
  const mode = args.get('child');
  const k = JSON.parse(args.get('key') as string) as { h: string; a: string };
  const ck = { hmacKey: Buffer.from(k.h, 'hex'), aesKey: Buffer.from(k.a, 'hex') };
  const t0 = performance.now();
  if (mode === 'seal') {
    const out = createWriteStream(args.get('out') as string);
    const input = createReadStream(args.get('in') as string, { highWaterMark: 1 << 20 });
    for await (const c of sealBackup(input, ck, { level, ...(workers === undefined ? {} : { workers }) })) {
      if (!out.write(c)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
  } else {
    let n = 0;
    for await (const c of openBackup(await fileSource(args.get('in') as string), ck)) n += c.length;
    if (n === 0) throw new Error('nothing opened');
  }
  const ms = performance.now() - t0;
  await closeGzipWorkers();
  process.stdout.write(JSON.stringify({ ms, maxRss: peakRss() }));
  process.exit(0);
}

// ---- main -------------------------------------------------------------------------------------
const MB = Number(args.get('mb') ?? 100);
const dir = await mkdtemp(join(tmpdir(), 'coffer-bench-seal-'));
const rows: Array<{
  what: string;
  coffer: string;
  reference: string;
  ratio: string;
  target: string;
  met: string;
}> = [];
const mbs = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);
const fmt = (x: number) => `${x.toFixed(1)} MB/s`;
const fmtMiB = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

function time<T>(fn: () => T): [T, number] {
  const t = performance.now();
  const r = fn();
  return [r, performance.now() - t];
}
async function timeAsync<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const r = await fn();
  return [r, performance.now() - t];
}
function sh(cmd: string): number {
  const t = performance.now();
  const r = spawnSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error(`command failed: ${cmd}`);
  return performance.now() - t;
}
function child(mode: 'seal' | 'open', input: string, output?: string): { ms: number; maxRss: number } {
  const self = fileURLToPath(import.meta.url);
  const argv = [
    '--import',
    'tsx',
    self,
    '--child',
    mode,
    '--in',
    input,
    '--key',
    JSON.stringify({ h: hex(key.hmacKey), a: hex(key.aesKey) }),
  ];
  if (output) argv.push('--out', output);
  argv.push('--level', String(level));
  if (workers !== undefined) argv.push('--workers', String(workers));
  const r = spawnSync(process.execPath, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`child ${mode} failed`);
  return JSON.parse(r.stdout) as { ms: number; maxRss: number };
}

try {
  console.log(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, node ${process.version}; load average ${(await readFile('/proc/loadavg', 'utf8').catch(() => '?')).split(' ').slice(0, 3).join(' ')}`,
  );
  if (args.has('media-only')) {
    rows.push(...(await mediaRows(dir)));
    report('seal', rows);
    await closeGzipWorkers();
    await rm(dir, { recursive: true, force: true });
    process.exit(0);
  }
  const chunks = [...syntheticHistory(MB * 1_000_000)];
  const plain = Buffer.concat(chunks);
  const plainPath = join(dir, 'plain.bin');
  writeFileSync(plainPath, plain);
  console.log(
    `plaintext: ${(plain.length / 1e6).toFixed(1)} MB synthetic chat history (${chunks.length} chunks of ~1 MiB)\n`,
  );

  // 1. Seal: Coffer (in process, from memory) vs zlib.gzipSync level 6 (single thread).
  const [gz6, gzMs] = time(() => zlib.gzipSync(plain, { level: 6 }));
  let stats: SealStats | undefined;
  const sealedParts: Uint8Array[] = [];
  const [, sealMs] = await timeAsync(async () => {
    for await (const c of sealBackup(chunks, key, {
      level,
      ...(workers === undefined ? {} : { workers }),
      onStats: (s) => {
        stats = s;
      },
    })) {
      sealedParts.push(c);
    }
  });
  const sealed = new Uint8Array(Buffer.concat(sealedParts));
  sealedParts.length = 0;
  const st = stats as SealStats;
  rows.push({
    what: 'seal vs zlib.gzipSync -6',
    coffer: fmt(mbs(plain.length, sealMs)),
    reference: fmt(mbs(plain.length, gzMs)),
    ratio: `${(gzMs / sealMs).toFixed(2)}x`,
    target: '>= 1.5x',
    met: gzMs / sealMs >= 1.5 ? 'yes' : 'NO',
  });

  // 2. Seal vs the shell pipeline on the same bytes.
  const ivHex = hex(randomBytes(16));
  const pipeMs = sh(
    `gzip -6 < ${plainPath} | openssl enc -aes-256-cbc -K ${hex(key.aesKey)} -iv ${ivHex} | openssl dgst -sha256 -mac HMAC -macopt hexkey:${hex(key.hmacKey)} > /dev/null`,
  );
  rows.push({
    what: 'seal vs gzip -6 | openssl enc | openssl dgst',
    coffer: fmt(mbs(plain.length, sealMs)),
    reference: fmt(mbs(plain.length, pipeMs)),
    ratio: `${(pipeMs / sealMs).toFixed(2)}x`,
    target: '> 1x',
    met: pipeMs / sealMs > 1 ? 'yes' : 'NO',
  });
  const sizeDiff = st.compressedBytes / gz6.length - 1;
  rows.push({
    what: 'compressed size vs gzip -6',
    coffer: `${st.compressedBytes} B`,
    reference: `${gz6.length} B`,
    ratio: `${sizeDiff >= 0 ? '+' : ''}${(sizeDiff * 100).toFixed(2)}%`,
    target: 'within 3%',
    met: Math.abs(sizeDiff) <= 0.03 ? 'yes' : 'NO',
  });

  // 2b. For transparency: the same seal at level 6 (what `gzip -6` does), same run.
  if (level !== 6) {
    let st6: SealStats | undefined;
    const [, seal6Ms] = await timeAsync(async () => {
      for await (const _ of sealBackup(chunks, key, {
        level: 6,
        ...(workers === undefined ? {} : { workers }),
        onStats: (s) => {
          st6 = s;
        },
      })) {
      }
    });
    const d6 = (st6 as SealStats).compressedBytes / gz6.length - 1;
    rows.push({
      what: 'seal at level 6 vs zlib.gzipSync -6 (info)',
      coffer: fmt(mbs(plain.length, seal6Ms)),
      reference: fmt(mbs(plain.length, gzMs)),
      ratio: `${(gzMs / seal6Ms).toFixed(2)}x`,
      target: `size ${d6 >= 0 ? '+' : ''}${(d6 * 100).toFixed(2)}%`,
      met: '',
    });
    // Like for like with the pipeline's gzip -6 (the target row above compares the default level).
    rows.push({
      what: 'seal at level 6 vs gzip -6 | openssl enc | openssl dgst (info)',
      coffer: fmt(mbs(plain.length, seal6Ms)),
      reference: fmt(mbs(plain.length, pipeMs)),
      ratio: `${(pipeMs / seal6Ms).toFixed(2)}x`,
      target: '',
      met: '',
    });
  }

  // 3. Open: Coffer (two passes: MAC, then decrypt + gunzip) vs zlib.gunzipSync and the shell pipeline.
  const [, openMs] = await timeAsync(async () => {
    let n = 0;
    for await (const c of openBackup(bytesSource(sealed), key)) n += c.length;
    if (n !== plain.length) throw new Error('open returned the wrong length');
  });
  const [, gunzipMs] = time(() => zlib.gunzipSync(gz6));
  const sealedPath = join(dir, 'sealed.bin');
  writeFileSync(sealedPath, sealed);
  const bodyPath = join(dir, 'body.bin');
  writeFileSync(bodyPath, sealed.subarray(16, sealed.length - 32));
  // gzip exits 2 ("trailing garbage ignored") on the zero padding after the member; 1 is a failure.
  const openPipeMs = sh(
    `openssl dgst -sha256 -mac HMAC -macopt hexkey:${hex(key.hmacKey)} < ${sealedPath} > /dev/null && ` +
      `openssl enc -d -aes-256-cbc -K ${hex(key.aesKey)} -iv ${hex(sealed.subarray(0, 16))} < ${bodyPath} | gzip -dc 2>/dev/null > /dev/null; s=$?; [ $s -eq 0 ] || [ $s -eq 2 ]`,
  );
  rows.push({
    what: 'open vs zlib.gunzipSync',
    coffer: fmt(mbs(plain.length, openMs)),
    reference: fmt(mbs(plain.length, gunzipMs)),
    ratio: `${(gunzipMs / openMs).toFixed(2)}x`,
    target: '(info)',
    met: '',
  });
  rows.push({
    what: 'open vs openssl dgst; openssl enc -d | gzip -d',
    coffer: fmt(mbs(plain.length, openMs)),
    reference: fmt(mbs(plain.length, openPipeMs)),
    ratio: `${(openPipeMs / openMs).toFixed(2)}x`,
    target: '(info)',
    met: '',
  });

  // 4. Peak RSS of streaming file -> file seal and file -> nothing open, each in a fresh process.
  const cs = child('seal', plainPath, join(dir, 'sealed2.bin'));
  const co = child('open', join(dir, 'sealed2.bin'));
  rows.push({
    what: 'peak RSS, streaming seal (child process)',
    coffer: fmtMiB(cs.maxRss),
    reference: `${fmt(mbs(plain.length, cs.ms))}`,
    ratio: '',
    target: 'flat',
    met: '',
  });
  rows.push({
    what: 'peak RSS, streaming open (child process)',
    coffer: fmtMiB(co.maxRss),
    reference: `${fmt(mbs(plain.length, co.ms))}`,
    ratio: '',
    target: 'flat',
    met: '',
  });

  // 5. Media (spec 5): attachment seal (AES-CBC + HMAC + digest + plaintextHash + incremental MAC)
  //    and verified open, vs `openssl enc -aes-256-cbc | openssl dgst -hmac` on the same bytes.
  rows.push(...(await mediaRows(dir)));

  report('seal', rows);
  console.log(
    `sealed size ${sealed.length} B (padding ${st.paddedBytes - st.compressedBytes} B); level ${level}; gzip workers ${workers ?? 'default'}`,
  );
} finally {
  await closeGzipWorkers();
  await rm(dir, { recursive: true, force: true });
}

async function mediaRows(tmp: string) {
  const MEDIA_MB = Number(args.get('media-mb') ?? 100);
  const ROUNDS = Number(args.get('media-repeat') ?? 5);
  const media = new Uint8Array(randomBytes(MEDIA_MB * 1_000_000)); // photos/videos: incompressible
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < media.length; i += 1 << 20) chunks.push(media.subarray(i, i + (1 << 20)));
  // The reference encrypts exactly the bytes Coffer encrypts: the plaintext and its zero padding
  // (spec 5.1, up to 5 % more); checked below by comparing the two ciphertexts.
  const padded = new Uint8Array(logPaddedSize(media.length));
  padded.set(media);
  const paddedPath = join(tmp, 'media-padded.bin');
  writeFileSync(paddedPath, padded);
  const keys = new Uint8Array(randomBytes(64));
  const aes = hex(keys.subarray(0, 32));
  const mac = hex(keys.subarray(32));

  // Untimed: module loading and the hash workers' start-up (once per process), then the blob the
  // open rows read, sealed with every value of the result.
  const warm = sealAttachment(new Uint8Array(2 << 20), keys);
  for await (const _ of warm.blob) {
  }
  await warm.result;
  const blobParts: Uint8Array[] = [];
  const full = sealAttachment(chunks, keys, { size: media.length });
  for await (const p of full.blob) blobParts.push(p);
  const result = await full.result;
  const blob = new Uint8Array(Buffer.concat(blobParts));
  blobParts.length = 0;
  const iv = hex(blob.subarray(0, 16));
  const blobPath = join(tmp, 'blob.bin');
  writeFileSync(blobPath, blob.subarray(16, blob.length - 32));
  const ours = createHash('sha256')
    .update(blob.subarray(16, blob.length - 32))
    .digest('hex');
  const theirs = spawnSync(
    'sh',
    ['-c', `openssl enc -aes-256-cbc -K ${aes} -iv ${iv} < ${paddedPath} | openssl dgst -sha256 -r`],
    { encoding: 'utf8' },
  ).stdout.split(' ')[0];
  if (theirs !== ours)
    throw new Error('openssl encrypted other bytes than Coffer: the comparison would be unfair');

  // Timed, alternating Coffer and openssl in each round so both see the same machine load. The
  // sealed bytes are consumed and dropped, as the reference pipeline drops its ciphertext.
  // Each run gives wall time and CPU time (all threads of this process; the shell's children for
  // openssl), the latter being less sensitive to the other work on a shared machine.
  type Run = { ms: number; cpu: number };
  const timed = async (fn: () => Promise<void>): Promise<Run> => {
    const c = process.cpuUsage();
    const t = performance.now();
    await fn();
    const u = process.cpuUsage(c);
    return { ms: performance.now() - t, cpu: (u.user + u.system) / 1000 };
  };
  const seal = (o: SealAttachmentOptions) =>
    timed(async () => {
      const s = sealAttachment(chunks, keys, { size: media.length, ...o });
      for await (const _ of s.blob) {
      }
      await s.result;
    });
  const open = () =>
    timed(async () => {
      let n = 0;
      for await (const p of openAttachment(blob, keys, {
        size: result.size,
        plaintextHash: result.plaintextHash,
      }))
        n += p.length;
      if (n !== media.length) throw new Error('media open returned the wrong length');
    });
  const shTimed = (cmd: string): Run => {
    const t = performance.now();
    const r = spawnSync('sh', ['-c', `{ ${cmd}; } && times`], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const ms = performance.now() - t;
    if (r.status !== 0) throw new Error(`command failed: ${cmd}`);
    // `times` prints the shell's user/sys, then its children's: "0m0.120000s 0m0.040000s".
    const last = r.stdout.trim().split('\n').at(-1) ?? '';
    const secs = [...last.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
    return { ms, cpu: ((secs[0] ?? 0) + (secs[1] ?? 0)) * 1000 };
  };
  const sslSeal = () =>
    shTimed(
      `openssl enc -aes-256-cbc -K ${aes} -iv ${iv} < ${paddedPath} | openssl dgst -sha256 -mac HMAC -macopt hexkey:${mac} > /dev/null`,
    );
  const sslOpen = () =>
    shTimed(
      `openssl dgst -sha256 -mac HMAC -macopt hexkey:${mac} < ${blobPath} > /dev/null && ` +
        `openssl enc -d -nopad -aes-256-cbc -K ${aes} -iv ${iv} < ${blobPath} > /dev/null`,
    );
  const runs = {
    lean: [] as Run[],
    full: [] as Run[],
    open: [] as Run[],
    sslSeal: [] as Run[],
    sslOpen: [] as Run[],
  };
  for (let r = 0; r < ROUNDS; r++) {
    runs.lean.push(await seal({ digest: false, plaintextHash: false }));
    runs.sslSeal.push(sslSeal());
    runs.full.push(await seal({}));
    runs.open.push(await open());
    runs.sslOpen.push(sslOpen());
  }
  const ms = (rs: Run[]) => rs.map((r) => r.ms);
  const t = {
    lean: ms(runs.lean),
    full: ms(runs.full),
    open: ms(runs.open),
    sslSeal: ms(runs.sslSeal),
    sslOpen: ms(runs.sslOpen),
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const cpuPerMb = (rs: Run[]) => median(rs.map((r) => r.cpu)) / (media.length / 1e6);
  const cpuRow = (what: string, ours: Run[], ref: Run[]) => ({
    what,
    coffer: `${cpuPerMb(ours).toFixed(2)} ms/MB`,
    reference: `${cpuPerMb(ref).toFixed(2)} ms/MB`,
    ratio: `${(cpuPerMb(ref) / cpuPerMb(ours)).toFixed(2)}x`,
    target: '(info)',
    met: '',
  });
  const row = (what: string, ms: number[], refMs: number[]) => {
    const ratios = ms.map((m, i) => (refMs[i] as number) / m);
    const ratio = median(ratios);
    return {
      what,
      coffer: fmt(mbs(media.length, median(ms))),
      reference: fmt(mbs(media.length, median(refMs))),
      ratio: `${ratio.toFixed(2)}x`,
      target: '>= 0.8x',
      met: ratio >= 0.8 ? 'yes' : 'NO',
      note: `median of ${ROUNDS} alternating rounds; per-round ratios ${ratios.map((x) => x.toFixed(2)).join(', ')}`,
    };
  };
  const rows = [
    row(`media seal ${MEDIA_MB} MB (AES-CBC + HMAC + incr. MAC) vs openssl enc | dgst`, t.lean, t.sslSeal),
    row(
      `media seal ${MEDIA_MB} MB + digest + plaintextHash (2 SHA-256 passes openssl skips)`,
      t.full,
      t.sslSeal,
    ),
    row(
      `media open ${MEDIA_MB} MB + plaintext hash check (1 SHA-256 pass more) vs openssl dgst; enc -d`,
      t.open,
      t.sslOpen,
    ),
    cpuRow('media seal CPU time per MB, all threads (AES-CBC + HMAC + incr. MAC)', runs.lean, runs.sslSeal),
    cpuRow('media seal CPU time per MB + digest + plaintextHash', runs.full, runs.sslSeal),
    cpuRow('media open CPU time per MB (+ plaintext hash)', runs.open, runs.sslOpen),
  ];
  for (const r of rows) if ('note' in r) console.log(`  ${r.what}: ${r.note}`);
  console.log(
    `  media: ${media.length} B plaintext + ${padded.length - media.length} B zero padding encrypted by both (same ciphertext, checked)`,
  );
  return rows;
}
