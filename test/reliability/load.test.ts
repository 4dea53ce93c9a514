// Load (issue 7): simulated devices against a `coffer serve` process on loopback for a fixed time
// (test-support/load-generator.ts: each registered with its own account, backup ids and credentials
// before the clock, then daily checks, messages backups, restores and media batches). CI: 30
// devices for 10 s; soak (`npm run test:soak`): 1,000 devices for 60 s; COFFER_LOAD_CLIENTS /
// COFFER_LOAD_SECONDS override. Not a timed test: it asserts that nothing acknowledged is lost or
// corrupted, that every refusal is documented back-pressure (429 / 503 with a code), and that server
// memory stays bounded; the figures are printed (`npm run bench -- load` is the benchmark).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CofferProcess, startCofferProcess } from '../../test-support/coffer-process.ts';
import { formatLoad, runLoad } from '../../test-support/load-generator.ts';
import { isSoak } from '../../test-support/profile.ts';

const CLIENTS = Number(process.env.COFFER_LOAD_CLIENTS ?? (isSoak ? 1000 : 30));
const SECONDS = Number(process.env.COFFER_LOAD_SECONDS ?? (isSoak ? 60 : 10));
const RSS_LIMIT_MB = Number(process.env.COFFER_LOAD_RSS_MB ?? 1536);

describe(`load: ${CLIENTS} devices for ${SECONDS} s`, () => {
  let proc: CofferProcess | undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-load-'));
  afterAll(async () => {
    await proc?.kill();
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(`${dir}.config.json`, { force: true });
  });

  it(
    'daily backups, restores and media batches: nothing lost or corrupted, only documented back-pressure, bounded memory',
    async () => {
      proc = await startCofferProcess({
        dataDir: dir,
        portRange: [27120, 27139],
        config: {
          credentials: { keyBits: 1024, maxRequestsPerDay: 100 },
          // every simulated device shares 127.0.0.1: per-address limits would measure only themselves
          verification: { perAddress: { limit: 1_000_000, windowMs: 3_600_000 } },
          limits: { requestsPerMinutePerAddress: 100_000_000 },
          logLevel: 'warn',
        },
        env: { COFFER_LOG_LEVEL: 'warn' },
        timeoutMs: 120_000,
      });
      const r = await runLoad({
        base: proc.url,
        pid: proc.child.pid as number,
        clients: CLIENTS,
        seconds: SECONDS,
        thinkMs: 1000,
        log: (l) => console.log(l),
      });
      console.log(formatLoad(r));
      expect(r.unexpected).toEqual([]);
      expect(r.verified.lost).toEqual([]);
      expect(r.verified.corrupted).toEqual([]);
      // connections refused or reset: the server must answer, if only with 503
      expect(Object.keys(r.codes).filter((k) => k.startsWith('network'))).toEqual([]);
      expect(r.clients).toBe(CLIENTS);
      // every device that was told its backup was stored got it back, byte for byte
      expect(r.flows.backups).toBeGreaterThan(0);
      expect(r.flows.restores).toBeGreaterThan(0);
      expect(r.flows.mediaObjects).toBeGreaterThan(0);
      expect(r.verified.backups).toBe(r.verified.expectedBackups);
      expect(r.verified.mediaObjects).toBe(r.verified.expectedMediaObjects);
      expect(r.peakRssMb, 'server memory').toBeLessThan(RSS_LIMIT_MB);
    },
    (SECONDS + 900) * 1000,
  );
});
