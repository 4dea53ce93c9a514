// Load (issue 7): N simulated clients against a `coffer serve` process on loopback for a fixed time
// (CI: 100 clients, 20 s; soak: 1,000 clients, 300 s; COFFER_LOAD_CLIENTS / COFFER_LOAD_SECONDS).
// autocannon drives the signed control requests (one connection per client, each request freshly
// signed with that client's backup-id key), while worker loops do what a device does every day:
// a backup (upload form + tus upload, which commits), a restore (read auth + download, compared
// byte for byte with the client's last acknowledged backup) and media uploads (form + tus + store).
// Checked: zero lost or corrupted backups, no 5xx other than documented back-pressure (503 / 429
// with a code), server memory bounded. Printed: requests/s, p50/p99 and answers by code.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { xeddsaSign } from '@coffer/crypto';
import { canonicalRequestString, ERROR_CODES, toBase64Url } from '@coffer/protocol';
import autocannon from 'autocannon';
import { afterAll, describe, expect, it } from 'vitest';
import { type CofferProcess, startCofferProcess } from '../../test-support/coffer-process.ts';
import { isSoak } from '../../test-support/profile.ts';
import { SocketClient } from '../../test-support/security-client.ts';

const CLIENTS = Number(process.env.COFFER_LOAD_CLIENTS ?? (isSoak ? 1000 : 100));
const SECONDS = Number(process.env.COFFER_LOAD_SECONDS ?? (isSoak ? 300 : 20));
const RSS_LIMIT_MB = Number(process.env.COFFER_LOAD_RSS_MB ?? 1536);
const EMPTY_SHA = createHash('sha256').update('').digest('hex');

function signedHeaders(c: SocketClient, method: string, url: string, type = 1): Record<string, string> {
  const timestamp = Math.floor(Date.now() / 1000);
  const credential = toBase64Url(c.credential(type));
  const canonical = canonicalRequestString({
    method,
    pathAndQuery: url,
    timestamp,
    bodySha256Hex: EMPTY_SHA,
    credential,
  });
  const sig = xeddsaSign(c.keyPair(type).privateKey, new TextEncoder().encode(canonical));
  return {
    'x-coffer-credential': credential,
    'x-coffer-timestamp': String(timestamp),
    'x-coffer-signature': toBase64Url(sig),
  };
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};

describe(`load: ${CLIENTS} clients for ${SECONDS} s`, () => {
  let proc: CofferProcess | undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-load-'));
  afterAll(async () => {
    await proc?.kill();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(`${dir}.config.json`, { force: true });
  });

  it(
    'daily backups, restores and media uploads: nothing lost or corrupted, only documented back-pressure, bounded memory',
    async () => {
      proc = await startCofferProcess({
        dataDir: dir,
        portRange: [29700, 29799],
        config: {
          credentials: { keyBits: 1024, maxRequestsPerDay: 100 },
          verification: { perAddress: { limit: 1_000_000, windowMs: 3_600_000 } },
          // every simulated client shares 127.0.0.1: the per-address limit would measure only itself
          limits: { requestsPerMinutePerAddress: 100_000_000 },
          logLevel: 'warn',
        },
        env: { COFFER_LOG_LEVEL: 'warn' },
        timeoutMs: 120_000,
      });
      const base = proc.url;
      const pid = proc.child.pid as number;
      const codes = new Map<string, number>();
      const count = (k: string) => codes.set(k, (codes.get(k) ?? 0) + 1);
      const unexpected: string[] = [];
      const note = async (what: string, r: Response) => {
        if (r.status < 400) {
          count(String(r.status));
          return;
        }
        let code = 'no-code';
        try {
          code = ((await r.clone().json()) as { error?: { code?: string } }).error?.code ?? 'no-code';
        } catch {}
        count(`${r.status} ${code}`);
        const backPressure = (r.status === 503 || r.status === 429) && code in ERROR_CODES;
        if (r.status >= 500 && !backPressure) unexpected.push(`${what}: ${r.status} ${code}`);
        if (!(code in ERROR_CODES)) unexpected.push(`${what}: ${r.status} without a documented code`);
      };

      // --- setup: accounts, credentials, keys, a first backup each (bounded concurrency)
      const t0 = Date.now();
      const clients: SocketClient[] = [];
      const expected = new Map<SocketClient, Buffer>();
      const busy = new Set<SocketClient>();
      const setupOne = async () => {
        const c = new SocketClient(base);
        await c.register(undefined as never);
        const r = await c.fetchCredentials([0, 1]);
        expect(r.status).toBe(200);
        expect((await c.setKey(1)).status).toBe(204);
        expect((await c.setKey(2)).status).toBe(204);
        clients.push(c);
      };
      for (let i = 0; i < CLIENTS; i += 20)
        await Promise.all(Array.from({ length: Math.min(20, CLIENTS - i) }, setupOne));
      const setupMs = Date.now() - t0;

      const lat = { backup: [] as number[], restore: [] as number[], media: [] as number[] };
      const tusCreate = (form: { uploadUrl: string; headers: Record<string, string> }, data: Buffer) =>
        fetch(form.uploadUrl, {
          method: 'POST',
          headers: {
            ...form.headers,
            'tus-resumable': '1.0.0',
            'upload-length': String(data.length),
            'content-type': 'application/offset+octet-stream',
          },
          body: new Uint8Array(data),
        });
      const backup = async (c: SocketClient) => {
        const data = randomBytes(20_000 + Math.floor(Math.random() * 180_000));
        const t = Date.now();
        const url = `/v1/archives/upload/form?uploadLength=${data.length}`;
        const f = await fetch(base + url, { headers: signedHeaders(c, 'GET', url) });
        await note('upload form', f);
        if (f.status !== 200) return;
        const up = await tusCreate((await f.json()) as never, data);
        await note('tus upload', up);
        if (up.status === 201 && up.headers.get('upload-offset') === String(data.length)) {
          expected.set(c, data);
          lat.backup.push(Date.now() - t);
        }
      };
      const restore = async (c: SocketClient) => {
        const want = expected.get(c);
        const t = Date.now();
        const ra = await fetch(`${base}/v1/archives/auth/read`, {
          headers: signedHeaders(c, 'GET', '/v1/archives/auth/read'),
        });
        await note('read auth', ra);
        if (ra.status !== 200) return;
        const auth = (await ra.json()) as { backupUrl: string; headers: Record<string, string> };
        const dl = await fetch(auth.backupUrl, { headers: auth.headers });
        if (!want) {
          expect(dl.status).toBe(404);
          await dl.arrayBuffer();
          return;
        }
        await note('download', dl);
        const got = Buffer.from(await dl.arrayBuffer());
        if (dl.status === 200) {
          if (!got.equals(want)) unexpected.push('a restored backup differs from the last acknowledged one');
          lat.restore.push(Date.now() - t);
        }
      };
      const media = async (c: SocketClient) => {
        const data = randomBytes(5_000 + Math.floor(Math.random() * 50_000));
        const t = Date.now();
        const url = `/v1/archives/media/upload/form?uploadLength=${data.length}`;
        const f = await fetch(base + url, { headers: signedHeaders(c, 'GET', url, 2) });
        await note('media form', f);
        if (f.status !== 200) return;
        const form = (await f.json()) as {
          uploadUrl: string;
          headers: Record<string, string>;
          uploadId: string;
        };
        const up = await tusCreate(form, data);
        await note('media tus', up);
        if (up.status !== 201) return;
        const st = await c.signed(
          'PUT',
          '/v1/archives/media',
          {
            sourceUploadId: form.uploadId,
            objectLength: data.length,
            mediaId: randomBytes(15).toString('base64url'),
          },
          { type: 2 },
        );
        count(st.status < 400 ? String(st.status) : `${st.status} ${st.body?.error?.code}`);
        if (st.status >= 500 && st.status !== 503) unexpected.push(`store media: ${st.status}`);
        if (st.status === 200) lat.media.push(Date.now() - t);
      };

      // --- load phase
      let maxRss = rssMb(pid);
      const sampler = setInterval(() => {
        maxRss = Math.max(maxRss, rssMb(pid));
      }, 250);
      const until = Date.now() + SECONDS * 1000;
      let flows = 0;
      const worker = async (w: number, workers: number) => {
        let i = w;
        while (Date.now() < until) {
          const c = clients[i % clients.length] as SocketClient;
          i += workers;
          if (busy.has(c)) continue;
          busy.add(c);
          try {
            const roll = Math.random();
            if (roll < 0.45) await backup(c);
            else if (roll < 0.8) await restore(c);
            else await media(c);
            flows++;
          } catch (err) {
            count(`network ${(err as Error).name}`);
          } finally {
            busy.delete(c);
          }
        }
      };
      let conn = 0;
      const control = autocannon({
        url: base,
        connections: CLIENTS,
        duration: SECONDS,
        timeout: 30,
        requests: [
          {
            method: 'GET',
            path: '/v1/archives',
            setupRequest: (
              req: { headers?: Record<string, string> },
              context: { c?: SocketClient | undefined },
            ) => {
              context.c ??= clients[conn++ % clients.length];
              req.headers = {
                ...req.headers,
                ...signedHeaders(context.c as SocketClient, 'GET', '/v1/archives'),
              };
              return req;
            },
            onResponse: (status: number, body: string) => {
              if (status < 400) return count(String(status));
              let code = 'no-code';
              try {
                code = JSON.parse(body).error?.code ?? 'no-code';
              } catch {}
              count(`${status} ${code}`);
              if (status >= 500 && !(status === 503 && code in ERROR_CODES))
                unexpected.push(`control: ${status} ${code}`);
            },
          },
        ],
      } as never) as unknown as Promise<autocannon.Result>;
      const workers = Math.max(4, Math.floor(CLIENTS / 4));
      const [result] = await Promise.all([
        control,
        ...Array.from({ length: workers }, (_, w) => worker(w, workers)),
      ]);
      clearInterval(sampler);

      // --- every client's current backup is its last acknowledged upload
      let verified = 0;
      for (const c of clients) {
        busy.clear();
        await restore(c);
        if (expected.has(c)) verified++;
      }
      const byCode = Object.fromEntries([...codes.entries()].sort((x, y) => y[1] - x[1]));
      console.log(
        [
          `load: ${CLIENTS} clients, ${SECONDS} s (setup ${Math.round(setupMs / 1000)} s)`,
          `control (autocannon): ${Math.round(result.requests.average)} req/s, p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, ${result.requests.total} requests, ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`,
          `flows: ${flows} (${lat.backup.length} backups p50 ${pct(lat.backup, 50)} ms p99 ${pct(lat.backup, 99)} ms; ${lat.restore.length} restores p50 ${pct(lat.restore, 50)} ms p99 ${pct(lat.restore, 99)} ms; ${lat.media.length} media p50 ${pct(lat.media, 50)} ms p99 ${pct(lat.media, 99)} ms)`,
          `answers by code: ${JSON.stringify(byCode)}`,
          `server RSS max ${Math.round(maxRss)} MB; backups verified byte-identical: ${verified}`,
        ].join('\n'),
      );
      expect(unexpected.slice(0, 20)).toEqual([]);
      // autocannon counts its own timeouts as errors; anything else (reset, refused) is a failure
      expect(result.errors - result.timeouts, 'connection errors in the control load').toBe(0);
      expect(lat.backup.length).toBeGreaterThan(0);
      expect(lat.restore.length).toBeGreaterThan(0);
      expect(verified).toBeGreaterThan(0);
      expect(maxRss, 'server memory').toBeLessThan(RSS_LIMIT_MB);
    },
    (SECONDS + 600) * 1000,
  );
});
