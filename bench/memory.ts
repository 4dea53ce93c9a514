// npm run bench -- memory [--messages 100000,1000000] [--quick] [--media 200] [--no-launcher-flags]
//
// Client memory and restore time on a generated history in the reference chat store
// (@coffer/chatstore). For each history size, in a fresh child process each (peak RSS is the
// process's VmHWM, which covers its whole life):
//   backup  - SqliteChatStore.exportFrames -> @coffer/client sealedBackupStream -> file
//   verify  - @coffer/client openSealedBackup(fileSource) (MAC, decrypt, gunzip, frames, validation)
//   restore - the same steps as openSealedBackup(..., { into: store }) with a clock around each
//             stage (MAC pass, decrypt + gunzip + frame decoding, validation, import, commit)
// Then a table: peak RSS per operation and size against the 200 MB target, growth from the
// smallest to the largest size against the 10% target, and restore time with per-stage shares.
// Generated stores are cached in $TMPDIR/coffer-bench-stores (same seed -> same history).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle, CLI_DIST } from '../packages/cli/src/bundle.ts';
import type { ChildResult } from './_memory-child.ts';
import { type BenchRow, report } from './_report.ts';

const argv = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const quick = argv.includes('--quick');
const here = dirname(fileURLToPath(import.meta.url));

// ------------------------------------------------------------------ parent
// The children run compiled JavaScript with plain `node`, as bin/coffer.js runs the bundled CLI
// (bundled by the same code, packages/cli/src/bundle.ts): no tsx loader, compiler or source maps.
const childBundle = await bundle(
  join(here, '_memory-child.ts'),
  join(here, 'dist', 'memory-child'),
  'memory-child',
);

// The Node flags the installed `coffer` command starts with: those of its shebang line
// (`#!/usr/bin/env -S node <flags>`), read here so that the children cannot drift from it. An app
// embedding the SDK sets its own flags (packages/client/README.md recommends the same).
const launcher = join(here, '..', 'packages', 'cli', 'bin', 'coffer.js');
// --no-launcher-flags: plain `node` (an A/B of the flags; also what `node bin/coffer.js` gets).
const nodeFlags = argv.includes('--no-launcher-flags') ? [] : launcherFlags(readFileSync(launcher, 'utf8'));

function launcherFlags(source: string): string[] {
  const first = source.slice(0, source.indexOf('\n'));
  const m = /^#!\/usr\/bin\/env(?: -S)? node((?: --[\w-]+(?:=\S+)?)*)\s*$/.exec(first);
  if (!m) throw new Error(`unexpected shebang in ${launcher}: ${first}`);
  return (m[1] as string).split(' ').filter(Boolean);
}

function child(mode: string, extra: string[]): ChildResult {
  const entry = fileURLToPath(childBundle.entry);
  const r = spawnSync(process.execPath, [...nodeFlags, entry, '--child', mode, ...extra], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`memory bench child '${mode}' failed (status ${r.status})`);
  return JSON.parse(r.stdout) as ChildResult;
}

/** Peak RSS of the real CLI starting up and running `coffer keygen` (env: COFFER_CLI_TSX=1 for tsx). */
function cliStartup(env: Record<string, string>): number {
  const atExit =
    "import{readFileSync}from'node:fs';process.on('exit',()=>process.stderr.write('VmHWM '+/VmHWM:\\s+(\\d+)/.exec(readFileSync('/proc/self/status','utf8'))[1]))";
  const r = spawnSync(
    process.execPath,
    [...nodeFlags, '--import', `data:text/javascript,${encodeURIComponent(atExit)}`, launcher, 'keygen'],
    {
      encoding: 'utf8',
      env: { ...process.env, ...env },
    },
  );
  const m = /VmHWM (\d+)/.exec(r.stderr);
  if (r.status !== 0 || !m) throw new Error(`coffer keygen failed (status ${r.status}): ${r.stderr}`);
  return Number(m[1]) * 1024;
}

const sizes = (opt('messages') ?? (quick ? '10000,100000' : '100000,1000000'))
  .split(',')
  .map((s) => Number(s.replace(/_/g, '')));
const MEDIA = opt('media') ?? '200';
const cacheDir = join(tmpdir(), 'coffer-bench-stores');
mkdirSync(cacheDir, { recursive: true });
const work = await mkdtemp(join(tmpdir(), 'coffer-bench-memory-'));
const MiB = (b: number) => `${(b / 1048576).toFixed(0)} MiB`;
console.log(`children run: node ${nodeFlags.join(' ') || '(no flags)'} (bin/coffer.js's shebang flags)`);
const LIMIT = 200 * 1e6; // "under 200 MB"
const results: Array<{
  n: number;
  backup: ChildResult;
  verify: ChildResult;
  restore: ChildResult;
  bytes: number;
}> = [];
try {
  for (const n of sizes) {
    const storeDir = join(cacheDir, `history-${n}-m${MEDIA}`);
    if (!existsSync(storeDir)) {
      const g = child('generate', ['--store', storeDir, '--messages', String(n), '--media', MEDIA]);
      console.log(`generated ${n.toLocaleString('en')} messages in ${(g.ms / 1000).toFixed(1)} s`);
    }
    const sealed = join(work, `backup-${n}.bin`);
    const backup = child('backup', ['--store', storeDir, '--out', sealed]);
    const bytes = (await stat(sealed)).size;
    const verify = child('verify', ['--in', sealed]);
    const target = join(work, `restored-${n}`);
    const restore = child('restore', ['--in', sealed, '--store', target]);
    await rm(target, { recursive: true, force: true });
    results.push({ n, backup, verify, restore, bytes });
    console.log(
      `${n.toLocaleString('en')} messages (${(bytes / 1e6).toFixed(1)} MB sealed): ` +
        `backup ${(backup.ms / 1000).toFixed(1)} s ${MiB(backup.maxRss)}, ` +
        `verify ${(verify.ms / 1000).toFixed(1)} s ${MiB(verify.maxRss)}, ` +
        `restore ${(restore.ms / 1000).toFixed(1)} s ${MiB(restore.maxRss)}`,
    );
  }
} finally {
  await rm(work, { recursive: true, force: true });
}

const rows: BenchRow[] = [];
// `npm run build` makes the CLI bundle; rebuilt right before, as other work in the tree may have
// made it stale (bin/coffer.js would then fall back to tsx).
await bundle(join(here, '..', 'packages', 'cli', 'src', 'main.ts'), CLI_DIST, 'coffer');
const startup = cliStartup({});
const startupTsx = cliStartup({ COFFER_CLI_TSX: '1' });
rows.push({
  what: 'peak RSS, coffer keygen (CLI start-up; reference: through tsx)',
  coffer: MiB(startup),
  reference: MiB(startupTsx),
  ratio: `${(startupTsx / startup).toFixed(2)}x`,
  target: '(info)',
  met: '',
});
const fmtN = (n: number) => (n >= 1e6 ? `${n / 1e6}M` : `${n / 1e3}k`);
for (const op of ['backup', 'verify', 'restore'] as const) {
  for (const r of results) {
    const rss = r[op].maxRss;
    rows.push({
      what: `peak RSS, ${op} of ${fmtN(r.n)} messages`,
      coffer: MiB(rss),
      reference: '200 MB',
      ratio: `${((rss / LIMIT) * 100).toFixed(0)}%`,
      target: '< 200 MB',
      met: rss < LIMIT ? 'yes' : 'NO',
    });
  }
  const lo = results[0];
  const hi = results[results.length - 1];
  if (lo && hi && hi !== lo) {
    const g = hi[op].maxRss / lo[op].maxRss - 1;
    rows.push({
      what: `peak RSS growth, ${op} ${fmtN(lo.n)} -> ${fmtN(hi.n)}`,
      coffer: MiB(hi[op].maxRss),
      reference: MiB(lo[op].maxRss),
      ratio: `${g >= 0 ? '+' : ''}${(g * 100).toFixed(1)}%`,
      target: '<= +10%',
      met: g <= 0.1 ? 'yes' : 'NO',
    });
  }
}
const big = results[results.length - 1];
if (big?.restore.stages) {
  const s = big.restore.stages;
  const total = Object.values(s).reduce((a, b) => a + b, 0);
  const shares = Object.entries(s)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${((v / total) * 100).toFixed(0)}%`)
    .join(', ');
  rows.push({
    what: `restore ${fmtN(big.n)} messages into chatstore`,
    coffer: `${(big.restore.ms / 1000).toFixed(1)} s`,
    reference: `${Math.round(big.n / (big.restore.ms / 1000)).toLocaleString('en')} msg/s`,
    ratio: '',
    target: '(report)',
    met: '',
    note: shares,
  });
}
report('memory', rows);
