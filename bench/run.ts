// Benchmark dispatcher.
//   npm run bench                  every benchmark, at the issue's sizes, then ONE table of all figures
//   npm run bench -- --quick       the same with smaller sizes (minutes instead of tens of minutes)
//   npm run bench -- --only a,b    only these benchmarks (combined table)
//   npm run bench -- <name> [args] one benchmark with its own arguments and output (bench/<name>.ts)
// Benchmarks print ratios against reference tools measured in the same run (see bench/README.md);
// they are not tests. In the combined mode each benchmark runs in its own child process and hands
// its rows over through the file named by COFFER_BENCH_ROWS (bench/_report.ts).
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchRow } from './_report.ts';

const here = dirname(fileURLToPath(import.meta.url));
const names = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && !f.startsWith('_') && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3))
  .sort();
/**
 * The figures of issue 8, in table order, with the arguments of each benchmark at full size and
 * with --quick. A benchmark that is not in bench/ yet shows as "not measured".
 */
const PLAN: Array<{ bench: string; label?: string; covers: string; full: string[]; quick: string[] }> = [
  {
    bench: 'seal',
    covers: 'seal vs zlib -6 and vs gzip|openssl, size vs gzip -6, media seal/open vs openssl',
    full: ['--mb', '100', '--media-mb', '100'],
    quick: ['--mb', '20', '--media-mb', '20'],
  },
  {
    bench: 'validate',
    covers:
      'open+validate of a sealed file vs libsignal MessageBackup.validate, and frames-only vs its OnlineBackupValidator, 1,000,000 items',
    full: ['1000000', '--repeat', '3'],
    quick: ['100000', '--repeat', '3'],
  },
  {
    bench: 'memory',
    covers: 'client peak RSS for backup/verify/restore at 100k and 1M messages; restore time and stages',
    full: [],
    quick: ['--quick'],
  },
  {
    bench: 'e2e',
    covers: 'second backup with unchanged media uploads zero media bytes (through coffer serve)',
    full: ['--port', '30100'],
    quick: ['--port', '30100', '--messages', '20000', '--media', '20', '--media-bytes', '20000000'],
  },
  // One entry per server mode: a failure in one mode does not lose the other's rows.
  {
    bench: 'server',
    label: 'server (embedded)',
    covers: 'control endpoint p99 at 1,000 req/s; 50 concurrent large uploads memory (SQLite + files)',
    full: ['--modes', 'embedded'],
    quick: ['--quick', '--modes', 'embedded'],
  },
  {
    bench: 'server',
    label: 'server (pg-s3)',
    covers: 'the same on PostgreSQL + S3 (scale-out)',
    full: ['--modes', 'pg-s3'],
    quick: ['--quick', '--modes', 'pg-s3'],
  },
];

async function runAll(argv: string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const onlyArg = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
  const only = onlyArg?.split(',');
  const dir = mkdtempSync(join(tmpdir(), 'coffer-bench-'));
  const rowsFile = join(dir, 'rows.jsonl');
  writeFileSync(rowsFile, '');
  const started = new Date();
  const load0 = loadavg();
  const status: Array<{ bench: string; label: string; covers: string; state: string; seconds: number }> = [];
  for (const p of PLAN) {
    if (only && !only.includes(p.bench)) continue;
    if (!names.includes(p.bench)) {
      status.push({
        bench: p.bench,
        label: p.label ?? p.bench,
        covers: p.covers,
        state: `not measured: bench/${p.bench}.ts missing`,
        seconds: 0,
      });
      continue;
    }
    const log = join(dir, `${(p.label ?? p.bench).replace(/\W+/g, '-')}.log`);
    const args = quick ? p.quick : p.full;
    process.stderr.write(`running ${p.bench} ${args.join(' ')} (log: ${log}) ... `);
    const t0 = performance.now();
    const code = await runChild(join(here, `${p.bench}.ts`), args, log, rowsFile);
    const seconds = (performance.now() - t0) / 1000;
    process.stderr.write(`${code === 0 ? 'done' : `FAILED (exit ${code})`} in ${seconds.toFixed(0)} s\n`);
    status.push({
      bench: p.bench,
      label: p.label ?? p.bench,
      covers: p.covers,
      state: code === 0 ? 'ok' : `failed (exit ${code}), see ${log}`,
      seconds,
    });
  }

  const rows = readFileSync(rowsFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as BenchRow & { bench: string });
  for (const s of status) {
    if (s.state !== 'ok' || !rows.some((r) => r.bench === s.bench)) {
      rows.push({
        bench: s.label,
        what: s.covers,
        coffer: '-',
        reference: '-',
        ratio: '-',
        target: '-',
        met: 'NOT RUN',
        note: s.state === 'ok' ? 'the benchmark reported no rows (see its log)' : s.state,
      });
    }
  }

  const mode = quick ? 'QUICK (reduced sizes)' : 'full sizes (issue 8)';
  console.log(
    `Coffer benchmarks, ${mode}; ${started.toISOString()}; ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ` +
      `${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}; load average at start ${load0.map((x) => x.toFixed(1)).join(' ')}, ` +
      `at end ${loadavg()
        .map((x) => x.toFixed(1))
        .join(' ')}`,
  );
  console.log(table(rows));
  const targets = rows.filter((r) => r.met === 'yes' || r.met === 'NO');
  const met = targets.filter((r) => r.met === 'yes').length;
  const notRun = rows.filter((r) => r.met === 'NOT RUN').length;
  console.log(
    `${met} of ${targets.length} targets met${notRun > 0 ? `; ${notRun} figure group(s) not measured` : ''}. ` +
      `Ratios compare Coffer with the reference measured in the same run; logs in ${dir}`,
  );
  for (const r of rows)
    if (r.note && r.met !== 'NOT RUN') console.log(`  note [${r.bench}] ${r.what}: ${r.note}`);
  for (const r of rows) if (r.met === 'NOT RUN') console.log(`  not run [${r.bench}]: ${r.note}`);
}

function runChild(script: string, args: string[], log: string, rowsFile: string): Promise<number> {
  return new Promise((resolve) => {
    const out: Buffer[] = [];
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
      env: { ...process.env, COFFER_BENCH_ROWS: rowsFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => out.push(d));
    child.on('close', (code) => {
      writeFileSync(log, Buffer.concat(out));
      resolve(code ?? 1);
    });
  });
}

function table(rows: Array<BenchRow & { bench: string }>): string {
  const cols: Array<[string, (r: BenchRow & { bench: string }) => string]> = [
    ['bench', (r) => r.bench],
    ['figure', (r) => r.what],
    ['Coffer', (r) => r.coffer],
    ['reference', (r) => r.reference],
    ['ratio', (r) => r.ratio],
    ['target', (r) => r.target],
    ['met', (r) => r.met],
  ];
  const cells = rows.map((r) => cols.map(([, f]) => f(r)));
  const width = cols.map(([h], i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(width[i] as number)).join(' | ')} |`;
  const sep = `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(cols.map(([h]) => h)), sep, ...cells.map(line)].join('\n');
}

// Dispatch last: PLAN and the helpers above must be initialised first.
const name = process.argv[2];
if (name !== undefined && !name.startsWith('--')) {
  if (!names.includes(name)) {
    console.log(
      `usage: npm run bench [-- --quick] | npm run bench -- <name> [args]\navailable: ${names.join(', ')}`,
    );
    process.exit(2);
  }
  process.argv.splice(2, 1); // the benchmark sees its own arguments from argv[2] on
  await import(pathToFileURL(join(here, `${name}.ts`)).href);
} else {
  await runAll(process.argv.slice(2));
}
