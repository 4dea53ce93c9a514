// Control-endpoint latency of one `coffer serve` at a fixed request rate (bench/server.ts).
//
// The mix, one third each, round robin:
// - `me`: GET /v1/accounts/me (device token: one database read, a SHA-256 and a constant-time compare);
// - `keys`: GET /v1/credentials/keys for today and tomorrow, both levels (public, cached keys);
// - `archive`: GET /v1/archives, an anonymous signed request (credential check, XEdDSA signature,
//   replay store, then the backup's usage and versions). Every request carries its own signature
//   (a replay would be refused), so they are signed before the clock starts: signing is the
//   client's CPU, not the server's.
// The load is open loop (bench/_open-loop.ts): latency is counted from each request's due time, so a
// stalled server is charged for every request that waited. Credential keys are fetched before the
// clock (the server makes a day's keys on first use and pre-generates the coming week's in the
// background, about 0.3 s of CPU per key) and the first `warmupSeconds` are discarded.
import fs from 'node:fs';
import { xeddsaSign } from '../packages/crypto/src/index.ts';
import { signRequest } from '../packages/protocol/src/index.ts';
import type { TestClient } from '../packages/server/test/helpers.ts';
import { type OpenLoopResult, openLoop } from './_open-loop.ts';

export interface ControlResult extends OpenLoopResult {
  rate: number;
  /** Server CPU time (user + system, all threads) per request over warm-up and measured period, ms. */
  serverCpuMsPerRequest: number;
}

const DAY = 86_400;
const today = () => Math.floor(Date.now() / 1000 / DAY) * DAY;

/** Server CPU time so far (utime + stime from /proc), ms. */
function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * (1000 / 100); // clock ticks: USER_HZ = 100 on Linux
}

/** Fetches (and so creates) the keys the load asks for, and waits for the background pre-generation. */
export async function warmCredentialKeys(base: string): Promise<void> {
  const t = today();
  for (const q of [`start=${t}&end=${t + 7 * DAY}&level=200`, `start=${t}&end=${t + DAY}`]) {
    const r = await fetch(`${base}/v1/credentials/keys?${q}`);
    if (r.status !== 200) throw new Error(`credential keys: ${r.status}`);
    await r.arrayBuffer();
  }
}

async function signArchiveRequests(c: TestClient, n: number): Promise<Record<string, string>[]> {
  const kp = c.keyPair(1);
  const credential = c.credential(1);
  const out: Record<string, string>[] = [];
  for (let i = 0; i < n; i++) {
    out.push(
      await signRequest({
        method: 'GET',
        pathAndQuery: '/v1/archives',
        credential,
        sign: (m) => xeddsaSign(kp.privateKey, m),
      }),
    );
  }
  return out;
}

export async function controlLoad(
  base: string,
  c: TestClient,
  serverPid: number,
  o: { rate: number; seconds: number; warmupSeconds: number },
): Promise<ControlResult> {
  const total = Math.round((o.seconds + o.warmupSeconds) * o.rate);
  const signed = await signArchiveRequests(c, Math.ceil(total / 3) + 1);
  const t = today();
  const keysPath = `/v1/credentials/keys?start=${t}&end=${t + DAY}`;
  const me = { authorization: `Bearer ${c.deviceToken}` };
  let nextSigned = 0;
  const cpu0 = cpuMs(serverPid);
  const res = await openLoop({
    base,
    rate: o.rate,
    seconds: o.seconds,
    warmupSeconds: o.warmupSeconds,
    connections: 256,
    request: (i) => {
      switch (i % 3) {
        case 0:
          return { kind: 'me', method: 'GET', path: '/v1/accounts/me', headers: me };
        case 1:
          return { kind: 'keys', method: 'GET', path: keysPath };
        default:
          return {
            kind: 'archive',
            method: 'GET',
            path: '/v1/archives',
            headers: signed[nextSigned++] ?? {},
          };
      }
    },
  });
  return { ...res, rate: o.rate, serverCpuMsPerRequest: (cpuMs(serverPid) - cpu0) / total };
}

/**
 * The highest of `rates` (ascending) at which p99 stayed under `p99Ms` with no errors, trying each
 * in turn and stopping at the first miss; undefined when even the first missed.
 */
export async function sustainedRate(
  base: string,
  c: TestClient,
  serverPid: number,
  rates: number[],
  o: { seconds: number; warmupSeconds: number; p99Ms: number },
): Promise<{ rate: number | undefined; steps: ControlResult[] }> {
  const steps: ControlResult[] = [];
  let best: number | undefined;
  for (const rate of rates) {
    const r = await controlLoad(base, c, serverPid, { rate, ...o });
    steps.push(r);
    if (r.p99 >= o.p99Ms || r.errors > 0) break;
    best = rate;
  }
  return { rate: best, steps };
}
