// Server benchmark: the embedded defaults (SQLite + files) against scale-out storage (PostgreSQL +
// S3) in one run, each in its own `coffer serve` process on loopback.
//
//   npm run bench -- server [--quick] [--rate 1000] [--seconds 10] [--warmup 3] [--no-sweep]
//                           [--backups 200] [--concurrency 16]
//                           [--size BYTES] [--large N --large-mb MB] [--modes embedded,pg-s3]
//                           [--ports LO-HI]
//
// Figures per mode:
// - control endpoints (GET /v1/accounts/me with a device token, GET /v1/credentials/keys, and the
//   anonymous signed GET /v1/archives, one third each) at a fixed request rate, open loop
//   (bench/_control-load.ts, bench/_open-loop.ts): p50 / p99 / max latency from each request's due
//   time, per endpoint too, errors, and the server's CPU time per request; then (full size, unless
//   --no-sweep) the highest of 250, 500, 1000, 1500, 2000, 3000 requests/s with p99 < 50 ms;
// - backups per second: tus create + upload + commit (one metadata transaction making the blob
//   current) of `--backups` messages backups of `--size` bytes, `--concurrency` at a time (upload
//   forms are fetched before the clock starts: their signing is client-side CPU, not server work);
// - peak server RSS while `--large` uploads of `--large-mb` MiB run at once (memory must stay flat).
// PostgreSQL: COFFER_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test), one fresh schema.
// S3: COFFER_TEST_S3_URL (+ AWS_* credentials), else a throwaway Swift on ports 26485-26489.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { TestClient } from '../packages/server/test/helpers.ts';
import {
  createPgSchema,
  createS3Prefix,
  freePortInRange,
  parseS3Url,
  S3_TEST_SECRET,
  S3_TEST_USER,
  sharedScriptsDir,
} from '../test-support/services.ts';
import { type ControlResult, controlLoad, sustainedRate, warmCredentialKeys } from './_control-load.ts';
import { type BenchRow, report } from './_report.ts';
import { registerBenchClient, startBenchServer } from './_serve.ts';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const arg = (name: string, full: number, q: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : quick ? q : full;
};
const RATE = arg('rate', 1000, 500);
const SECONDS = arg('seconds', 10, 5);
const WARMUP = arg('warmup', 3, 2);
const SWEEP = !quick && !argv.includes('--no-sweep');
const SWEEP_RATES = [250, 500, 1000, 1500, 2000, 3000];
const BACKUPS = arg('backups', 200, 60);
const CONCURRENCY = arg('concurrency', 16, 8);
const SIZE = arg('size', 256 * 1024, 128 * 1024);
const LARGE = arg('large', 50, 10);
const LARGE_MB = arg('large-mb', 32, 8);
const modesArg = argv.includes('--modes') ? argv[argv.indexOf('--modes') + 1] : 'embedded,pg-s3';
const MODES = (modesArg ?? 'embedded,pg-s3').split(',') as Array<'embedded' | 'pg-s3'>;
// `--ports 27100-27179`: where the server may listen (several engineers share the machine).
const portsArg = argv.includes('--ports') ? argv[argv.indexOf('--ports') + 1] : '26400-26479';
const [PORT_LO, PORT_HI] = (portsArg ?? '26400-26479').split('-').map(Number) as [number, number];

interface ModeResult {
  mode: string;
  control: ControlResult;
  sustained?: { rate: number | undefined; steps: ControlResult[] };
  backupsPerSecond: number;
  baselineRssMb: number;
  peakRssMb: number;
}

function rssMb(pid: number): { now: number; peak: number } {
  const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0);
  return { now: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

interface Form {
  auth: string;
}

async function uploadForm(c: TestClient, length: number): Promise<Form> {
  const f = await c.signed('GET', `/v1/archives/upload/form?uploadLength=${length}`);
  if (f.status !== 200) throw new Error(`form ${f.status}`);
  return { auth: f.body.headers.Authorization as string };
}

/** One backup: tus create, one PATCH with the whole body (the server commits before answering). */
async function backup(base: string, form: Form, body: Uint8Array): Promise<void> {
  const tus = { 'Tus-Resumable': '1.0.0', Authorization: form.auth };
  const c = await fetch(`${base}/v1/uploads`, {
    method: 'POST',
    headers: { ...tus, 'Upload-Length': String(body.length) },
  });
  if (c.status !== 201) throw new Error(`tus create ${c.status}`);
  const loc = new URL(c.headers.get('location')!, base).toString();
  const p = await fetch(loc, {
    method: 'PATCH',
    headers: { ...tus, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
    body: body as Uint8Array<ArrayBuffer>,
  });
  if (p.status !== 204) throw new Error(`tus patch ${p.status}: ${await p.text()}`);
}

/**
 * A large upload written with node:http, one 1 MiB chunk at a time, waiting for 'drain': the client
 * never holds it whole either. (fetch with a ReadableStream body pulls ahead of the socket: with 50
 * uploads of 1 GiB the benchmark process itself grew to 20 GB and was OOM-killed.)
 */
async function largeBackup(base: string, form: Form, mb: number): Promise<void> {
  const tus = { 'Tus-Resumable': '1.0.0', Authorization: form.auth };
  const length = mb * 1024 * 1024;
  const c = await fetch(`${base}/v1/uploads`, {
    method: 'POST',
    headers: { ...tus, 'Upload-Length': String(length) },
  });
  if (c.status !== 201) throw new Error(`tus create ${c.status}`);
  const loc = new URL(c.headers.get('location')!, base).toString();
  const chunk = randomBytes(1024 * 1024);
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(
      loc,
      {
        method: 'PATCH',
        headers: {
          ...tus,
          'Upload-Offset': '0',
          'Content-Type': 'application/offset+octet-stream',
          'Content-Length': String(length),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    let sent = 0;
    const write = () => {
      while (sent < mb) {
        sent++;
        if (!req.write(chunk)) {
          req.once('drain', write);
          return;
        }
      }
      req.end();
    };
    write();
  });
  if (status !== 204) throw new Error(`large tus patch ${status}: ${body}`);
}

async function runMode(mode: 'embedded' | 'pg-s3', s3Url: string | undefined): Promise<ModeResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `coffer-bench-server-${mode}-`));
  const cleanups: Array<() => Promise<void>> = [async () => fs.rmSync(dir, { recursive: true, force: true })];
  try {
    const extra: string[] = [];
    const env: Record<string, string> = {};
    if (mode === 'pg-s3') {
      const schema = await createPgSchema('bench');
      cleanups.push(schema.drop);
      if (s3Url) process.env.COFFER_TEST_S3_URL = s3Url;
      const prefix = await createS3Prefix('bench');
      cleanups.push(prefix.cleanup);
      const target = parseS3Url(prefix.url);
      const blobUrl = new URL(prefix.url);
      blobUrl.username = '';
      blobUrl.password = '';
      env.AWS_ACCESS_KEY_ID = target.credentials?.accessKeyId ?? '';
      env.AWS_SECRET_ACCESS_KEY = target.credentials?.secretAccessKey ?? '';
      extra.push('--db', schema.url, '--blobs', blobUrl.toString());
    }
    const server = await startBenchServer({
      dir,
      port: await freePortInRange(PORT_LO, PORT_HI),
      env,
      args: extra,
    });
    cleanups.unshift(server.stop);
    const pid = server.child.pid!;
    process.stderr.write(`[${mode}] registering clients\n`);
    const clients: TestClient[] = [];
    for (let i = 0; i < CONCURRENCY; i++)
      clients.push(await registerBenchClient(server.base, `bench${i}`, 1));
    await warmCredentialKeys(server.base);

    process.stderr.write(
      `[${mode}] control endpoints at ${RATE} req/s for ${SECONDS} s (+${WARMUP} s warm-up)\n`,
    );
    const control = await controlLoad(server.base, clients[0]!, pid, {
      rate: RATE,
      seconds: SECONDS,
      warmupSeconds: WARMUP,
    });
    let sustained: ModeResult['sustained'];
    if (SWEEP) {
      process.stderr.write(`[${mode}] highest rate with p99 < 50 ms among ${SWEEP_RATES.join(', ')} req/s\n`);
      sustained = await sustainedRate(server.base, clients[0]!, pid, SWEEP_RATES, {
        seconds: 5,
        warmupSeconds: 2,
        p99Ms: 50,
      });
    }

    process.stderr.write(`[${mode}] ${BACKUPS} backups of ${SIZE} bytes, ${CONCURRENCY} at a time\n`);
    const forms: Form[] = [];
    for (let i = 0; i < BACKUPS; i++) forms.push(await uploadForm(clients[i % clients.length]!, SIZE));
    const body = new Uint8Array(randomBytes(SIZE));
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < BACKUPS) {
          const i = next++;
          await backup(server.base, forms[i]!, body);
        }
      }),
    );
    const backupsPerSecond = BACKUPS / ((performance.now() - t0) / 1000);

    process.stderr.write(`[${mode}] ${LARGE} concurrent uploads of ${LARGE_MB} MiB\n`);
    const largeForms: Form[] = [];
    for (let i = 0; i < LARGE; i++)
      largeForms.push(await uploadForm(clients[i % clients.length]!, LARGE_MB * 1024 * 1024));
    const baseline = rssMb(pid).now;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(pid).now);
    }, 100);
    await Promise.all(largeForms.map((f) => largeBackup(server.base, f, LARGE_MB)));
    clearInterval(sampler);
    return {
      mode,
      control,
      ...(sustained ? { sustained } : {}),
      backupsPerSecond,
      baselineRssMb: baseline,
      peakRssMb: peak,
    };
  } finally {
    for (const c of cleanups) await c().catch(() => undefined);
  }
}

function ensureSwift(): { url: string; stop(): void } | undefined {
  if (process.env.COFFER_TEST_S3_URL) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-swift-'));
  const script = path.join(sharedScriptsDir(), 's3-swift.sh');
  const r = spawnSync('bash', [script, dir, '26485'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`could not start Swift for the benchmark: ${r.stderr}`);
  const endpoint = encodeURIComponent('http://127.0.0.1:26485');
  return {
    url: `s3://${encodeURIComponent(S3_TEST_USER)}:${encodeURIComponent(S3_TEST_SECRET)}@coffer-bench?endpoint=${endpoint}&region=us-east-1`,
    stop() {
      spawnSync('bash', [script, '--stop', dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

const load0 = os.loadavg()[0] ?? 0;
const swift = MODES.includes('pg-s3') ? ensureSwift() : undefined;
const results: ModeResult[] = [];
try {
  for (const m of MODES) results.push(await runMode(m, swift?.url));
} finally {
  swift?.stop();
}

const fmt = (n: number, d = 1) => n.toFixed(d);
const emb = results.find((r) => r.mode === 'embedded');
const so = results.find((r) => r.mode === 'pg-s3');
const rows: BenchRow[] = [];
const perKind = (c: ControlResult) =>
  Object.entries(c.byKind)
    .map(([k, v]) => `${k} ${v.p50}/${v.p99}/${v.max}`)
    .join(', ');
for (const r of results) {
  const c = r.control;
  rows.push({
    what: `[${r.mode}] control p50 / p99 / max at ${RATE} req/s, open loop (got ${fmt(c.achievedRate, 0)}/s, ${c.errors} errors)`,
    coffer: `${c.p50} / ${c.p99} / ${c.max} ms`,
    reference: '50 ms p99',
    ratio: fmt(50 / Math.max(c.p99, 0.001), 2),
    target: 'p99 < 50 ms',
    met: c.p99 < 50 && c.errors === 0 && c.achievedRate >= 0.95 * RATE ? 'yes' : 'NO',
    note:
      `per endpoint p50/p99/max ms: ${perKind(c)}; server CPU ${fmt(c.serverCpuMsPerRequest, 3)} ms per request; ` +
      `load generator lag max ${c.generatorLagMax} ms; answers ${JSON.stringify(c.statuses)}`,
  });
  if (r.sustained) {
    const s = r.sustained;
    rows.push({
      what: `[${r.mode}] highest rate with control p99 < 50 ms (tried ${s.steps.map((x) => x.rate).join(', ')} req/s)`,
      coffer:
        s.rate === undefined
          ? `none (p99 ${s.steps[0]?.p99} ms at ${s.steps[0]?.rate}/s)`
          : `${s.rate} req/s`,
      reference: `${RATE} req/s`,
      ratio: s.rate === undefined ? '-' : fmt(s.rate / RATE, 2),
      target: '(info)',
      met: '',
      note: s.steps.map((x) => `${x.rate}/s: p99 ${x.p99} ms, ${x.errors} errors`).join('; '),
    });
  }
  rows.push({
    what: `[${r.mode}] peak server RSS, ${LARGE} concurrent uploads of ${LARGE_MB} MiB`,
    coffer: `${fmt(r.peakRssMb, 0)} MiB (before ${fmt(r.baselineRssMb, 0)})`,
    reference: `${LARGE * LARGE_MB} MiB uploaded`,
    ratio: fmt((r.peakRssMb - r.baselineRssMb) / (LARGE * LARGE_MB), 3),
    target: 'flat (growth << bytes in flight)',
    met: r.peakRssMb - r.baselineRssMb < Math.max(256, (LARGE * LARGE_MB) / 4) ? 'yes' : 'NO',
  });
}
if (emb && so) {
  rows.push({
    what: `backups/s (${BACKUPS} x ${SIZE / 1024} KiB, ${CONCURRENCY} at a time): PostgreSQL+S3 vs embedded`,
    coffer: `${fmt(so.backupsPerSecond)}/s`,
    reference: `${fmt(emb.backupsPerSecond)}/s`,
    ratio: fmt(so.backupsPerSecond / emb.backupsPerSecond, 2),
    target: '',
    met: '',
    note:
      'one process each on this machine; PostgreSQL+S3 is for several processes on several machines; ' +
      `load average ${load0.toFixed(1)} at start, ${(os.loadavg()[0] ?? 0).toFixed(1)} at end on ${os.cpus().length} cores`,
  });
} else {
  for (const r of results) {
    rows.push({
      what: `[${r.mode}] backups/s (${BACKUPS} x ${SIZE / 1024} KiB, ${CONCURRENCY} at a time)`,
      coffer: `${fmt(r.backupsPerSecond)}/s`,
      reference: '-',
      ratio: '-',
      target: '',
      met: '',
    });
  }
}
report('server', rows);
