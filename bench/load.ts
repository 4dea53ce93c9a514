// Load benchmark (issue 7): simulated devices against one `coffer serve` (embedded storage) on
// loopback for a fixed time, with the figures the issue asks for.
//
//   npm run bench -- load [--clients 1000] [--seconds 60] [--think-ms 1000] [--setup-concurrency 25]
//                         [--ports 27140-27149] [--quick]
//
// The devices (test-support/load-generator.ts) are registered before the clock, each with its own
// account, backup ids and credentials; then each checks its backup, makes a messages backup
// (upload form + tus upload + commit), restores (read auth + download, compared byte for byte) or
// uploads a media batch, pausing up to --think-ms between days. 429/503 answers are waited out as
// Retry-After asks, like the SDK. Printed: requests/s, p50/p99 by request kind, answers by code,
// server peak RSS, and what was verified after the clock. All devices share 127.0.0.1, so the
// server runs with its per-address limits lifted (bench/_serve.ts); back-pressure limits stay at
// their defaults. There is no reference tool here: the rows are figures, not ratios.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatLoad, runLoad } from '../test-support/load-generator.ts';
import { freePortInRange } from '../test-support/services.ts';
import { type BenchRow, report } from './_report.ts';
import { startBenchServer } from './_serve.ts';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const arg = (name: string, full: number, q: number): number => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : quick ? q : full;
};
const CLIENTS = arg('clients', 1000, 100);
const SECONDS = arg('seconds', 60, 20);
const THINK = arg('think-ms', 1000, 1000);
const SETUP = arg('setup-concurrency', 25, 25);
const portsArg = argv.includes('--ports') ? argv[argv.indexOf('--ports') + 1] : '27140-27149';
const [PORT_LO, PORT_HI] = (portsArg ?? '27140-27149').split('-').map(Number) as [number, number];

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-bench-load-'));
const server = await startBenchServer({
  dir,
  port: await freePortInRange(PORT_LO, PORT_HI),
  config: { credentials: { keyBits: 2048, maxRequestsPerDay: 1000 } },
});
try {
  process.stderr.write(`load: registering ${CLIENTS} devices (${SETUP} at a time), then ${SECONDS} s\n`);
  const r = await runLoad({
    base: server.base,
    pid: server.child.pid as number,
    clients: CLIENTS,
    seconds: SECONDS,
    thinkMs: THINK,
    setupConcurrency: SETUP,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  console.log(formatLoad(r));
  const errors = Object.entries(r.codes)
    .filter(([k]) => !/^[23]\d\d$/.test(k))
    .map(([k, n]) => `${k}: ${n}`)
    .join(', ');
  const ok = r.unexpected.length === 0 && r.verified.lost.length === 0 && r.verified.corrupted.length === 0;
  const rows: BenchRow[] = [
    {
      what: `load: ${r.clients} devices, ${r.seconds.toFixed(0)} s, requests/s (p50 / p99 ms)`,
      coffer: `${r.requestsPerSecond.toFixed(0)}/s (${r.p50} / ${r.p99})`,
      reference: '-',
      ratio: '-',
      target: '(report)',
      met: '',
      note: `load average ${r.loadAverage[0].toFixed(1)} at the start of the clock, ${r.loadAverage[1].toFixed(1)} at the end, ${os.cpus().length} cores`,
    },
    {
      what: 'load: answers other than 2xx, by code',
      coffer: errors || 'none',
      reference: 'documented back-pressure only',
      ratio: '-',
      target: '429/503 with a code',
      met: r.unexpected.length === 0 ? 'yes' : 'NO',
    },
    {
      what: 'load: acknowledged backups / media objects restored byte-identical',
      coffer: `${r.verified.backups} / ${r.verified.mediaObjects}`,
      reference: `${r.verified.expectedBackups} / ${r.verified.expectedMediaObjects}`,
      ratio: '-',
      target: 'all, none lost',
      met: ok ? 'yes' : 'NO',
    },
    {
      what: 'load: server peak RSS',
      coffer: `${Math.round(r.peakRssMb)} MiB`,
      reference: `${Math.round(r.baselineRssMb)} MiB before the clock`,
      ratio: '-',
      target: 'bounded',
      met: '',
    },
  ];
  report('load', rows);
  if (!ok) process.exitCode = 1;
} finally {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
