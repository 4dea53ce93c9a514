// Media-tier benchmark: how many media objects per second one client backs up through `coffer serve`
// (SQLite + files, its own process, loopback), and where each object's time goes.
//
//   npm run bench -- media-tier [--objects 300] [--size 330000] [--concurrency 4] [--port 32100]
//                               [--batch 100] [--cpu-prof DIR] [--server-root DIR]
//
// Per object the client makes four requests: upload form (signed GET), tus create (POST), tus
// upload (PATCH with the whole object) and the store step (signed PUT /v1/archives/media). Phases,
// same server, same bytes, measured in this order:
// - reference: raw tus create + PATCH of the same objects (forms fetched before the clock starts):
//   the cost of moving the bytes, without the form or the store step;
// - per-object: form + tus + PUT /v1/archives/media for every object (what the client does today);
// - batch: form + tus per object, then PUT /v1/archives/media/batch per `--batch` objects.
// Printed: objects/s, MB/s, and p50/p99 per request kind (form / tus / store). --cpu-prof DIR starts
// the server with --cpu-prof (profile written to DIR when it stops; see bench/_cpuprofile-top.ts).
// --server-root DIR runs `coffer serve` from another checkout (e.g. `git archive` of an older commit
// with node_modules linked), for a before/after comparison on the same machine.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toBase64Url } from '@coffer/protocol';
import type { TestClient } from '../packages/server/test/helpers.ts';
import { freePortInRange } from '../test-support/services.ts';
import { repoRoot } from '../test-support/vectors.ts';
import { type BenchRow, report } from './_report.ts';
import { registerBenchClient, startBenchServer } from './_serve.ts';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const sarg = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const OBJECTS = arg('objects', 300);
const SIZE = arg('size', 330_000);
const CONCURRENCY = arg('concurrency', 4);
const BATCH = arg('batch', 100);
const PORT = arg('port', 0);
const CPU_PROF = sarg('cpu-prof');
// Another checkout to run the server from (before/after comparisons against an older commit).
const SERVER_ROOT = sarg('server-root') ?? repoRoot;

interface Form {
  auth: string;
  uploadId: string;
}
type Kind = 'form' | 'tus' | 'store' | 'batch';
const times: Record<Kind, number[]> = { form: [], tus: [], store: [], batch: [] };
const timed = async <T>(kind: Kind, f: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const r = await f();
  times[kind].push(performance.now() - t0);
  return r;
};

async function uploadForm(c: TestClient, length: number): Promise<Form> {
  const f = await c.signed('GET', `/v1/archives/media/upload/form?uploadLength=${length}`, undefined, {
    type: 2,
  });
  if (f.status !== 200) throw new Error(`form ${f.status} ${JSON.stringify(f.body)}`);
  return { auth: f.body.headers.Authorization as string, uploadId: f.body.uploadId as string };
}

async function tusUpload(base: string, form: Form, body: Uint8Array): Promise<void> {
  const tus = { 'Tus-Resumable': '1.0.0', Authorization: form.auth };
  const c = await fetch(`${base}/v1/uploads`, {
    method: 'POST',
    headers: { ...tus, 'Upload-Length': String(body.length) },
  });
  if (c.status !== 201) throw new Error(`tus create ${c.status}`);
  const loc = new URL(c.headers.get('location') as string, base).toString();
  const p = await fetch(loc, {
    method: 'PATCH',
    headers: { ...tus, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
    body: body as Uint8Array<ArrayBuffer>,
  });
  if (p.status !== 204) throw new Error(`tus patch ${p.status}: ${await p.text()}`);
}

const mediaId = () => toBase64Url(new Uint8Array(randomBytes(15)));

async function store(c: TestClient, form: Form, length: number): Promise<void> {
  const r = await c.signed(
    'PUT',
    '/v1/archives/media',
    { sourceUploadId: form.uploadId, objectLength: length, mediaId: mediaId() },
    { type: 2 },
  );
  if (r.status !== 200) throw new Error(`store ${r.status} ${JSON.stringify(r.body)}`);
}

async function storeBatch(c: TestClient, items: Form[], length: number): Promise<boolean> {
  const r = await c.signed(
    'PUT',
    '/v1/archives/media/batch',
    { items: items.map((f) => ({ sourceUploadId: f.uploadId, objectLength: length, mediaId: mediaId() })) },
    { type: 2 },
  );
  if (r.status === 404) return false;
  if (r.status !== 200) throw new Error(`batch ${r.status} ${JSON.stringify(r.body)}`);
  const bad = (r.body.responses as Array<{ status: number }>).filter((x) => x.status !== 200);
  if (bad.length) throw new Error(`batch items failed: ${JSON.stringify(bad.slice(0, 3))}`);
  return true;
}

/** Runs `n` jobs, `CONCURRENCY` at a time; returns the wall time in seconds. */
async function pool(n: number, job: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await job(next++);
    }),
  );
  return (performance.now() - t0) / 1000;
}

const pct = (xs: number[], p: number) => {
  if (!xs.length) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-media-'));
const server = await startBenchServer({
  dir,
  port: PORT || (await freePortInRange(32100, 32199)),
  limits: { uploadFormsPerHour: 1e9 },
  config: { levels: { free: { mediaBytes: 100 * 1024 ** 3 } } },
  nodeArgs: CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', CPU_PROF] : [],
  root: SERVER_ROOT,
});
const rows: BenchRow[] = [];
try {
  const c = await registerBenchClient(server.base, 'media-bench', 2);
  const bodies = Array.from({ length: OBJECTS }, () => new Uint8Array(randomBytes(SIZE)));
  const mb = (OBJECTS * SIZE) / 1e6;
  const line = (name: string, s: number) =>
    `${name.padEnd(34)} ${(OBJECTS / s).toFixed(1).padStart(7)} objects/s ${(mb / s).toFixed(1).padStart(7)} MB/s  (${s.toFixed(2)} s)`;
  const lat = (k: Kind) =>
    `${k.padEnd(6)} p50 ${pct(times[k], 50).toFixed(1).padStart(7)} ms  p99 ${pct(times[k], 99).toFixed(1).padStart(7)} ms  (n=${times[k].length})`;
  process.stderr.write(`media-tier: ${OBJECTS} objects of ${SIZE} bytes, ${CONCURRENCY} at a time\n`);

  // Reference: the bytes alone (tus create + PATCH), forms fetched before the clock starts.
  const refForms: Form[] = [];
  for (let i = 0; i < OBJECTS; i++) refForms.push(await uploadForm(c, SIZE));
  times.tus = [];
  const refS = await pool(OBJECTS, (i) =>
    timed('tus', () => tusUpload(server.base, refForms[i]!, bodies[i]!)),
  );
  const refTus = [...times.tus];
  // These uploads are stored too (untimed), so the per-object phase starts with as many objects as
  // a client's second run would have.
  await pool(OBJECTS, (i) => store(c, refForms[i]!, SIZE));

  // Per-object: form + tus + store for each object.
  times.form = [];
  times.tus = [];
  times.store = [];
  const perS = await pool(OBJECTS, async (i) => {
    const f = await timed('form', () => uploadForm(c, SIZE));
    await timed('tus', () => tusUpload(server.base, f, bodies[i]!));
    await timed('store', () => store(c, f, SIZE));
  });
  const perLat = ['form', 'tus', 'store'].map((k) => lat(k as Kind));

  // Batch: form + tus per object, then one batch store per BATCH finished uploads.
  times.batch = [];
  const done: Form[] = [];
  let batchSupported = true;
  const batchS = await pool(OBJECTS, async (i) => {
    const f = await uploadForm(c, SIZE);
    await tusUpload(server.base, f, bodies[i]!);
    done.push(f);
    if (done.length >= BATCH || i === OBJECTS - 1) {
      const items = done.splice(0, done.length);
      if (batchSupported) batchSupported = await timed('batch', () => storeBatch(c, items, SIZE));
      if (!batchSupported) for (const it of items) await store(c, it, SIZE);
    }
  });
  // Whatever is still waiting (the last worker to finish may not have been the one with i = N-1).
  if (done.length && batchSupported) await storeBatch(c, done.splice(0), SIZE);

  console.log(
    `media-tier: ${OBJECTS} objects x ${SIZE} bytes, concurrency ${CONCURRENCY}, loopback, server ${SERVER_ROOT}`,
  );
  console.log(line('reference (tus create+PATCH only)', refS));
  console.log(
    `  tus    p50 ${pct(refTus, 50).toFixed(1).padStart(7)} ms  p99 ${pct(refTus, 99).toFixed(1).padStart(7)} ms`,
  );
  console.log(line('per object (form+tus+PUT media)', perS));
  for (const l of perLat) console.log(`  ${l}`);
  console.log(`  ratio to reference: ${(refS / perS).toFixed(2)} of the raw tus rate`);
  if (batchSupported) {
    console.log(line(`batch (form+tus, PUT batch/${BATCH})`, batchS));
    console.log(`  ${lat('batch')}`);
    console.log(`  ratio to reference: ${(refS / batchS).toFixed(2)} of the raw tus rate`);
  } else {
    console.log('batch: PUT /v1/archives/media/batch not available on this server');
  }
  const note = `${OBJECTS} x ${SIZE} B, concurrency ${CONCURRENCY}`;
  rows.push(
    {
      what: 'media objects/s (form + tus + PUT /v1/archives/media)',
      coffer: `${(OBJECTS / perS).toFixed(1)} obj/s, ${(mb / perS).toFixed(1)} MB/s`,
      reference: `raw tus ${(OBJECTS / refS).toFixed(1)} obj/s`,
      ratio: (refS / perS).toFixed(2),
      target: '',
      met: '',
      note,
    },
    {
      what: 'PUT /v1/archives/media p50 / p99',
      coffer: `${pct(times.store, 50).toFixed(1)} / ${pct(times.store, 99).toFixed(1)} ms`,
      reference: `tus create+PATCH p50 ${pct(refTus, 50).toFixed(1)} ms`,
      ratio: '',
      target: '',
      met: '',
      note,
    },
  );
  if (batchSupported) {
    rows.push({
      what: `media objects/s (form + tus, PUT batch of ${BATCH})`,
      coffer: `${(OBJECTS / batchS).toFixed(1)} obj/s, ${(mb / batchS).toFixed(1)} MB/s`,
      reference: `raw tus ${(OBJECTS / refS).toFixed(1)} obj/s`,
      ratio: (refS / batchS).toFixed(2),
      target: '',
      met: '',
      note,
    });
  }
} finally {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
report('media-tier', rows);
