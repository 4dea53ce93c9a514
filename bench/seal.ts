// npm run bench -- seal [--mb 100] [--level 6] [--workers N]
//
// Seals and opens a synthetic chat history (bench/_synthetic.ts) and prints, from the same run,
// Coffer's throughput against single-threaded `zlib.gzipSync` level 6 and against the shell
// pipeline `gzip -6 | openssl enc -aes-256-cbc | openssl dgst -sha256 -hmac` on the same bytes,
// the compressed size against gzip -6, and peak RSS of streaming seal / open in child processes.
// Then media sealing/opening against `openssl enc -aes-256-cbc` + HMAC. See bench/README.md.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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
  openAttachment,
  openBackup,
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
  const openPipeMs = sh(
    `openssl dgst -sha256 -mac HMAC -macopt hexkey:${hex(key.hmacKey)} < ${sealedPath} > /dev/null && ` +
      `openssl enc -d -aes-256-cbc -K ${hex(key.aesKey)} -iv ${hex(sealed.subarray(0, 16))} < ${bodyPath} | gzip -dc 2>/dev/null > /dev/null; true`,
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
  const media = new Uint8Array(randomBytes(MEDIA_MB * 1_000_000)); // photos/videos: incompressible
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < media.length; i += 1 << 20) chunks.push(media.subarray(i, i + (1 << 20)));
  const mediaPath = join(tmp, 'media.bin');
  writeFileSync(mediaPath, media);
  const keys = new Uint8Array(randomBytes(64));
  const blobParts: Uint8Array[] = [];
  const [result, sealMs] = await timeAsync(async () => {
    const s = sealAttachment(chunks, keys, { size: media.length });
    for await (const p of s.blob) blobParts.push(p);
    return s.result;
  });
  const blob = new Uint8Array(Buffer.concat(blobParts));
  blobParts.length = 0;
  const [, openMs] = await timeAsync(async () => {
    let n = 0;
    for await (const p of openAttachment(bytesSource(blob), keys, {
      size: result.size,
      plaintextHash: result.plaintextHash,
    }))
      n += p.length;
    if (n !== media.length) throw new Error('media open returned the wrong length');
  });
  const aes = hex(keys.subarray(0, 32));
  const mac = hex(keys.subarray(32));
  const iv = hex(blob.subarray(0, 16));
  const sslSealMs = sh(
    `openssl enc -aes-256-cbc -K ${aes} -iv ${iv} < ${mediaPath} | openssl dgst -sha256 -mac HMAC -macopt hexkey:${mac} > /dev/null`,
  );
  const blobPath = join(tmp, 'blob.bin');
  writeFileSync(blobPath, blob.subarray(16, blob.length - 32));
  const sslOpenMs = sh(
    `openssl dgst -sha256 -mac HMAC -macopt hexkey:${mac} < ${blobPath} > /dev/null && ` +
      `openssl enc -d -nopad -aes-256-cbc -K ${aes} -iv ${iv} < ${blobPath} > /dev/null`,
  );
  const row = (what: string, ms: number, refMs: number) => ({
    what,
    coffer: fmt(mbs(media.length, ms)),
    reference: fmt(mbs(media.length, refMs)),
    ratio: `${(refMs / ms).toFixed(2)}x`,
    target: '>= 0.8x',
    met: refMs / ms >= 0.8 ? 'yes' : 'NO',
  });
  return [
    row(`media seal ${MEDIA_MB} MB vs openssl enc | dgst`, sealMs, sslSealMs),
    row(`media open ${MEDIA_MB} MB vs openssl dgst; enc -d`, openMs, sslOpenMs),
  ];
}
