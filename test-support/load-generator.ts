/**
 * Load generator (issue 7), shared by test/reliability/load.test.ts (correctness, CI and soak) and
 * bench/load.ts (figures): N simulated devices against a `coffer serve` process, each registered
 * with its own account, backup ids and credentials before the clock starts, then each running its
 * own loop for a fixed time - check the backup (GET /v1/archives), then a messages backup (upload
 * form + tus upload, which commits), a restore (read auth + download, compared with the last
 * acknowledged backup) or a media batch (1-4 forms + tus uploads, one PUT /v1/archives/media/batch),
 * with a random pause between days. Like the SDK, a device waits out 429 and 503 answers as
 * Retry-After asks. After the clock, every device's current backup and every media object it was
 * told was stored is downloaded and compared (SHA-256) with what it sent.
 * Every simulated device shares the loopback address: the server under test needs its per-address
 * limits (requests, verification sessions) raised, or the load measures only the rate limiter.
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { ERROR_CODES } from '@coffer/protocol';
import { SocketClient } from './security-client.ts';

export interface LoadOptions {
  base: string;
  /** Server process id, for its memory. */
  pid: number;
  clients: number;
  seconds: number;
  /** Pause between one device's days, uniform in [0, thinkMs). */
  thinkMs?: number;
  /** Registrations at once during setup. */
  setupConcurrency?: number;
  log?: (line: string) => void;
}

interface Stat {
  count: number;
  ms: number[];
}

export interface LoadResult {
  clients: number;
  seconds: number;
  setupSeconds: number;
  /** Requests answered during the clock (retries included). */
  requests: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  max: number;
  /** Latency by request kind: count, p50, p99, max (ms). */
  byKind: Record<string, { count: number; p50: number; p99: number; max: number }>;
  /** Answers by status and code ("200", "503 COFFER_ERR_OVERLOADED", "network TypeError"). */
  codes: Record<string, number>;
  flows: { backups: number; restores: number; mediaBatches: number; mediaObjects: number; abandoned: number };
  /** Answers outside the documented set (5xx other than back-pressure, 4xx, or no code). */
  unexpected: string[];
  verified: {
    /** Devices told their backup was stored, and media objects acknowledged: what must come back. */
    expectedBackups: number;
    expectedMediaObjects: number;
    backups: number;
    mediaObjects: number;
    lost: string[];
    corrupted: string[];
  };
  baselineRssMb: number;
  peakRssMb: number;
  loadAverage: [number, number];
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/** Back-pressure answers a device waits out (like the SDK: api-client.ts). */
const isBackPressure = (status: number, code: string) =>
  (status === 429 || status === 503) && code in ERROR_CODES;

class Device {
  backup?: string;
  /** Hashes a current backup may have: the last acknowledged one, plus any upload whose answer was lost. */
  maybe = new Set<string>();
  media = new Map<string, string>();
  constructor(readonly c: SocketClient) {}
}

type Answer = { status: number; code: string; body: unknown; headers: Headers | Record<string, unknown> };

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const log = o.log ?? (() => {});
  const think = o.thinkMs ?? 1000;
  const stats = new Map<string, Stat>();
  const codes = new Map<string, number>();
  const unexpected: string[] = [];
  const flows = { backups: 0, restores: 0, mediaBatches: 0, mediaObjects: 0, abandoned: 0 };
  let counting = false;
  let requests = 0;

  const record = (kind: string, ms: number, key: string) => {
    if (!counting) return;
    requests++;
    codes.set(key, (codes.get(key) ?? 0) + 1);
    let s = stats.get(kind);
    if (!s) {
      s = { count: 0, ms: [] };
      stats.set(kind, s);
    }
    s.count++;
    s.ms.push(ms);
  };

  /**
   * One request, retried while the server answers with documented back-pressure (Retry-After,
   * capped at 5 s, plus jitter; at most 5 tries). Returns undefined if it never got through.
   */
  const call = async (kind: string, send: () => Promise<Answer>): Promise<Answer | undefined> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const t = performance.now();
      let a: Answer;
      try {
        a = await send();
      } catch (err) {
        record(kind, performance.now() - t, `network ${(err as Error).name}`);
        return undefined;
      }
      const ms = performance.now() - t;
      record(kind, ms, a.status < 400 ? String(a.status) : `${a.status} ${a.code || 'no-code'}`);
      if (a.status < 400) return a;
      if (!isBackPressure(a.status, a.code)) {
        if (unexpected.length < 100)
          unexpected.push(`${kind}: ${a.status} ${a.code || 'without a documented code'}`);
        return a;
      }
      const h = a.headers instanceof Headers ? a.headers.get('retry-after') : a.headers['retry-after'];
      const wait = Math.min(5, Number(h ?? 1) || 1);
      await sleep(wait * 1000 * (1 + 0.2 * Math.random()));
    }
    return undefined;
  };

  const codeOf = (body: unknown) =>
    ((body as { error?: { code?: string } } | undefined)?.error?.code ?? '') as string;
  const signed = (kind: string, d: Device, method: string, url: string, body?: unknown, type = 1) =>
    call(kind, async () => {
      const r = await d.c.signed(method, url, body, { type });
      return { status: r.status, code: codeOf(r.body), body: r.body, headers: r.headers };
    });
  const raw = (kind: string, url: string, init: RequestInit, read: 'json' | 'bytes') =>
    call(kind, async () => {
      const r = await fetch(url, init);
      const bytes = new Uint8Array(await r.arrayBuffer());
      let body: unknown = bytes;
      let code = '';
      if (r.status >= 400 || read === 'json') {
        try {
          body = JSON.parse(Buffer.from(bytes).toString('utf8'));
          code = codeOf(body);
        } catch {}
      }
      return { status: r.status, code, body, headers: r.headers };
    });
  const tusCreate = (
    kind: string,
    form: { uploadUrl: string; headers: Record<string, string> },
    data: Buffer,
  ) =>
    raw(
      kind,
      form.uploadUrl,
      {
        method: 'POST',
        headers: {
          ...form.headers,
          'tus-resumable': '1.0.0',
          'upload-length': String(data.length),
          'content-type': 'application/offset+octet-stream',
        },
        body: new Uint8Array(data),
      },
      'bytes',
    );

  // --- one device's activities --------------------------------------------------------------
  const backup = async (d: Device): Promise<boolean> => {
    const data = randomBytes(16_000 + Math.floor(Math.random() * 112_000));
    const f = await signed('backup form', d, 'GET', `/v1/archives/upload/form?uploadLength=${data.length}`);
    if (f?.status !== 200) return false;
    const h = sha(data);
    d.maybe.add(h); // from here on the server may hold it, whatever we hear back
    const up = await tusCreate('backup upload', f.body as never, data);
    const offset = up && (up.headers instanceof Headers ? up.headers.get('upload-offset') : undefined);
    if (up?.status === 201 && offset === String(data.length)) {
      d.backup = h;
      d.maybe = new Set([h]);
      return true;
    }
    return false;
  };
  // The media tier lives under the media backup id (credential type 2), the messages backup under type 1.
  const readAuth = async (d: Device, type = 1) => {
    const ra = await signed('read auth', d, 'GET', '/v1/archives/auth/read', undefined, type);
    return ra?.status === 200
      ? (ra.body as { backupUrl: string; mediaUrlPrefix: string; headers: Record<string, string> })
      : undefined;
  };
  const restore = async (d: Device, where: string[]): Promise<boolean> => {
    const auth = await readAuth(d);
    if (!auth) return false;
    const dl = await raw('download', auth.backupUrl, { headers: auth.headers }, 'bytes');
    if (dl?.status !== 200) return false;
    const h = sha(dl.body as Uint8Array);
    if (!d.maybe.has(h)) where.push(`${d.c.identifier}: the restored backup is not one the device sent`);
    else if (h !== d.backup) d.backup = h; // an upload whose answer was lost did commit
    d.maybe = new Set([h]);
    return true;
  };
  const mediaBatch = async (d: Device): Promise<boolean> => {
    const items: { sourceUploadId: string; objectLength: number; mediaId: string }[] = [];
    const hashes = new Map<string, string>();
    const n = 1 + Math.floor(Math.random() * 4);
    for (let i = 0; i < n; i++) {
      const data = randomBytes(2_000 + Math.floor(Math.random() * 30_000));
      const f = await signed(
        'media form',
        d,
        'GET',
        `/v1/archives/media/upload/form?uploadLength=${data.length}`,
        undefined,
        2,
      );
      if (f?.status !== 200) continue;
      const form = f.body as { uploadUrl: string; headers: Record<string, string>; uploadId: string };
      const up = await tusCreate('media upload', form, data);
      if (up?.status !== 201) continue;
      const mediaId = randomBytes(15).toString('base64url');
      items.push({ sourceUploadId: form.uploadId, objectLength: data.length, mediaId });
      hashes.set(mediaId, sha(data));
    }
    if (items.length === 0) return false;
    const st = await signed('media batch', d, 'PUT', '/v1/archives/media/batch', { items }, 2);
    if (st?.status !== 200) return false;
    for (const r of (
      st.body as { responses: { mediaId: string; status: number; error?: { code: string } }[] }
    ).responses) {
      if (r.status === 200) {
        d.media.set(r.mediaId, hashes.get(r.mediaId) as string);
        if (counting) flows.mediaObjects++;
      } else if (unexpected.length < 100) unexpected.push(`media batch item: ${r.status} ${r.error?.code}`);
    }
    return true;
  };

  // --- setup (before the clock) ----------------------------------------------------------------
  const t0 = performance.now();
  const devices: Device[] = [];
  const register = async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        const c = new SocketClient(o.base);
        await c.register(undefined as never);
        // Today's only: blinding costs the generator about 0.2 s of CPU per credential here
        // (@cloudflare/blindrsa-ts), and a run does not outlast the day's credential.
        const r = await c.fetchCredentials([0]);
        if (r.status !== 200) throw new Error(`credentials: ${r.status}`);
        for (const type of [1, 2]) {
          const k = await c.setKey(type);
          if (k.status !== 204) throw new Error(`set key: ${k.status}`);
        }
        devices.push(new Device(c));
        return;
      } catch (err) {
        // setup is not what is measured: a refused registration (back-pressure) starts over
        if (attempt >= 5) throw err;
        await sleep(1000 * (attempt + 1));
      }
    }
  };
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(o.setupConcurrency ?? 25, o.clients) }, async () => {
      while (next < o.clients) {
        next++;
        await register();
        if (devices.length % 100 === 0) log(`  ${devices.length} devices registered`);
      }
    }),
  );
  const setupSeconds = (performance.now() - t0) / 1000;
  log(`setup: ${devices.length} devices in ${setupSeconds.toFixed(1)} s`);

  // --- the clock --------------------------------------------------------------------------------
  const baselineRssMb = rssMb(o.pid);
  let peakRssMb = baselineRssMb;
  const sampler = setInterval(() => {
    peakRssMb = Math.max(peakRssMb, rssMb(o.pid));
  }, 250);
  const load0 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number)[0] as number;
  const corruptedDuring: string[] = [];
  counting = true;
  const start = performance.now();
  const until = start + o.seconds * 1000;
  const live = async (d: Device, i: number) => {
    await sleep((i / devices.length) * Math.min(1000, think)); // staggered start
    while (performance.now() < until) {
      try {
        await signed('backup info', d, 'GET', '/v1/archives');
        const roll = Math.random();
        let ok: boolean;
        if (d.backup === undefined || roll < 0.4) {
          ok = await backup(d);
          if (ok) flows.backups++;
        } else if (roll < 0.7) {
          ok = await restore(d, corruptedDuring);
          if (ok) flows.restores++;
        } else {
          ok = await mediaBatch(d);
          if (ok) flows.mediaBatches++;
        }
        if (!ok) flows.abandoned++;
      } catch (err) {
        flows.abandoned++;
        if (unexpected.length < 100) unexpected.push(`client error: ${(err as Error).message}`);
      }
      await sleep(Math.random() * think);
    }
  };
  await Promise.all(devices.map((d, i) => live(d, i)));
  const elapsed = (performance.now() - start) / 1000;
  counting = false;
  clearInterval(sampler);
  peakRssMb = Math.max(peakRssMb, rssMb(o.pid));
  const load1 = fs.readFileSync('/proc/loadavg', 'utf8').split(' ').map(Number)[0] as number;
  log(`clock: ${requests} requests in ${elapsed.toFixed(1)} s; verifying every device`);

  // --- nothing lost, nothing corrupted -------------------------------------------------------------
  const lost: string[] = [];
  const corrupted = [...corruptedDuring];
  let verifiedBackups = 0;
  let verifiedMedia = 0;
  let vi = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (vi < devices.length) {
        const d = devices[vi++] as Device;
        const who = d.c.identifier;
        const auth = await readAuth(d);
        if (!auth) {
          lost.push(`${who}: no read auth`);
          continue;
        }
        if (d.backup !== undefined) {
          const dl = await raw('verify download', auth.backupUrl, { headers: auth.headers }, 'bytes');
          if (dl?.status !== 200) lost.push(`${who}: backup answered ${dl?.status}`);
          else if (!d.maybe.has(sha(dl.body as Uint8Array))) corrupted.push(`${who}: backup differs`);
          else verifiedBackups++;
        }
        const mediaAuth = d.media.size > 0 ? await readAuth(d, 2) : undefined;
        if (d.media.size > 0 && !mediaAuth) lost.push(`${who}: no media read auth`);
        for (const [mediaId, h] of mediaAuth ? d.media : []) {
          const m = await raw(
            'verify media',
            (mediaAuth as { mediaUrlPrefix: string }).mediaUrlPrefix + mediaId,
            { headers: (mediaAuth as { headers: Record<string, string> }).headers },
            'bytes',
          );
          if (m?.status !== 200) lost.push(`${who}: media ${mediaId} answered ${m?.status}`);
          else if (sha(m.body as Uint8Array) !== h) corrupted.push(`${who}: media ${mediaId} differs`);
          else verifiedMedia++;
        }
      }
    }),
  );

  const all: number[] = [];
  const byKind: LoadResult['byKind'] = {};
  for (const [k, s] of stats) {
    const sorted = s.ms.sort((a, b) => a - b);
    all.push(...sorted);
    byKind[k] = {
      count: s.count,
      p50: Math.round(pct(sorted, 50)),
      p99: Math.round(pct(sorted, 99)),
      max: Math.round(sorted.at(-1) ?? 0),
    };
  }
  all.sort((a, b) => a - b);
  return {
    clients: devices.length,
    seconds: elapsed,
    setupSeconds,
    requests,
    requestsPerSecond: requests / elapsed,
    p50: Math.round(pct(all, 50)),
    p99: Math.round(pct(all, 99)),
    max: Math.round(all.at(-1) ?? 0),
    byKind,
    codes: Object.fromEntries([...codes.entries()].sort((a, b) => b[1] - a[1])),
    flows,
    unexpected,
    verified: {
      expectedBackups: devices.filter((d) => d.backup !== undefined).length,
      expectedMediaObjects: devices.reduce((n, d) => n + d.media.size, 0),
      backups: verifiedBackups,
      mediaObjects: verifiedMedia,
      lost,
      corrupted,
    },
    baselineRssMb,
    peakRssMb,
    loadAverage: [load0, load1],
  };
}

/** The figures as printed lines. */
export function formatLoad(r: LoadResult): string {
  const kinds = Object.entries(r.byKind)
    .map(
      ([k, s]) =>
        `  ${k.padEnd(14)} ${String(s.count).padStart(7)}  p50 ${s.p50} ms  p99 ${s.p99} ms  max ${s.max} ms`,
    )
    .join('\n');
  return [
    `load: ${r.clients} devices for ${r.seconds.toFixed(1)} s (setup ${r.setupSeconds.toFixed(1)} s before the clock); load average ${r.loadAverage[0].toFixed(1)} -> ${r.loadAverage[1].toFixed(1)}`,
    `requests: ${r.requests} = ${r.requestsPerSecond.toFixed(0)}/s; latency p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms`,
    kinds,
    `flows: ${r.flows.backups} backups, ${r.flows.restores} restores, ${r.flows.mediaBatches} media batches (${r.flows.mediaObjects} objects), ${r.flows.abandoned} given up after back-pressure or errors`,
    `answers by code: ${JSON.stringify(r.codes)}`,
    `verified after the clock: ${r.verified.backups} of ${r.verified.expectedBackups} backups and ${r.verified.mediaObjects} of ${r.verified.expectedMediaObjects} media objects byte-identical; ${r.verified.lost.length} lost, ${r.verified.corrupted.length} corrupted`,
    `server RSS: ${Math.round(r.baselineRssMb)} MiB before the clock, peak ${Math.round(r.peakRssMb)} MiB`,
    r.unexpected.length
      ? `unexpected answers: ${r.unexpected.slice(0, 10).join('; ')}`
      : 'unexpected answers: none',
  ].join('\n');
}
