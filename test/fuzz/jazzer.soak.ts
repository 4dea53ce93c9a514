// Soak profile only (vitest.soak.config.ts includes test/fuzz/*.soak.ts; `npm run test:fuzz` runs
// just this file): each Jazzer.js fuzz target (test/fuzz/<name>.fuzz.ts) runs under libFuzzer for
// COFFER_FUZZ_SECONDS (default 30) from a seed corpus and dictionary (seeds.ts), then replays its
// final corpus once with coverage on to report the line coverage of the Coffer code it reached.
//
// A target is bundled with esbuild into one CommonJS file of our sources (Jazzer.js instruments
// CommonJS it loads; packages from node_modules stay outside the bundle and uninstrumented). On
// Debian 12 the addon needs the compat shim of jazzer-compat.ts. A fuzzer that cannot run fails
// this test with the loader's error: there is no silent fallback.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../test-support/vectors.ts';
import { type JazzerRuntime, jazzerRuntime } from './jazzer-compat.ts';
import { dictionary, writeSeeds } from './seeds.ts';

const seconds = Number(process.env.COFFER_FUZZ_SECONDS ?? 30);
const names = ['recovery-key', 'frame-reader', 'validator', 'sealed-reader', 'server-requests'];
/** Per-input limit (a slower input is a hang); the server target's first input starts the server. */
const inputTimeoutMs: Record<string, number> = { 'server-requests': 60_000 };
/**
 * Extra seconds for the server target: its first input starts a server and registers a client,
 * about 15 s under instrumentation here, which would otherwise eat most of the budget.
 */
const startupSeconds: Record<string, number> = { 'server-requests': 30 };
const RSS_LIMIT_MB = 2048;

/**
 * Keeps packages (anything not relative, absolute or @coffer/*) out of the bundle, resolved from
 * the importing file so nested node_modules stay right. The crypto package's Node platform module,
 * which it imports by a URL bundlers cannot follow, is bundled (and instrumented) like the rest.
 */
const sourcesOnly: Plugin = {
  name: 'coffer-sources-only',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.kind === 'entry-point' || args.path.startsWith('@coffer/')) return undefined;
      if (args.path.startsWith('node:')) return { path: args.path, external: true };
      try {
        return { path: createRequire(args.importer).resolve(args.path), external: true };
      } catch {
        return { path: args.path, external: true };
      }
    });
    b.onLoad({ filter: /\.ts$/ }, (args) => ({
      contents: fs
        .readFileSync(args.path, 'utf8')
        // importNodeOnly hides Node-only modules from browser bundlers; here they belong in the bundle
        .replace(/importNodeOnly(<[^()]*>)?\((['"])(\.[^'"]+)\2\)/g, 'import($2$3$2)')
        .replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
      loader: 'ts',
    }));
  },
};

interface RunFigures {
  runs: number;
  execPerSecond: number;
  cov: number;
  ft: number;
}

/** libFuzzer's closing status line: "#45862 DONE cov: 2476 ft: 5205 corp: 842/656Kb ... exec/s: 4169". */
function figures(log: string): RunFigures | undefined {
  const m = [...log.matchAll(/#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) .*?exec\/s: (\d+)/g)].at(-1);
  return m
    ? { runs: Number(m[1]), cov: Number(m[2]), ft: Number(m[3]), execPerSecond: Number(m[4]) }
    : undefined;
}

describe('coverage-guided fuzzing with Jazzer.js (soak)', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-fuzz-'));
  const cli = path.join(repoRoot, 'node_modules/@jazzer.js/core/dist/cli.js');
  let runtime: JazzerRuntime;
  // the work folder (crashing inputs, corpora) is kept unless every target that ran passed
  let ran = 0;
  let passed = 0;
  const summary: string[] = [];

  beforeAll(() => {
    runtime = jazzerRuntime();
    console.log(`Jazzer.js: ${runtime.how}`);
  });
  afterAll(() => {
    if (summary.length > 0) console.log(`fuzzing summary (${seconds} s per target):\n${summary.join('\n')}`);
    if (passed === ran) fs.rmSync(work, { recursive: true, force: true });
    else console.log(`fuzzing artifacts kept in ${work}`);
  });

  const jazzer = (args: string[], timeoutMs: number) =>
    spawnSync(process.execPath, [cli, ...args], {
      cwd: work,
      encoding: 'utf8',
      timeout: timeoutMs,
      maxBuffer: 256 * 1024 * 1024,
      env: { ...process.env, ...runtime.env },
    });

  for (const name of names) {
    it(
      `${name}: ${seconds} s of coverage-guided fuzzing without a crash, hang, memory blow-up or uncoded rejection`,
      async () => {
        ran++;
        const bundle = path.join(work, `${name}.cjs`);
        await build({
          entryPoints: [path.join(repoRoot, `test/fuzz/${name}.fuzz.ts`)],
          bundle: true,
          platform: 'node',
          format: 'cjs',
          target: 'node20',
          outfile: bundle,
          logLevel: 'error',
          plugins: [sourcesOnly],
        });
        const corpus = path.join(work, `${name}-corpus`);
        const seeds = await writeSeeds(name, corpus);
        const entries = dictionary(name);
        const dict = path.join(work, `${name}.dict`);
        if (entries.length > 0)
          fs.writeFileSync(dict, `${entries.map((e) => JSON.stringify(e)).join('\n')}\n`);
        const timeout = inputTimeoutMs[name] ?? 10_000;
        const budget = seconds + (startupSeconds[name] ?? 0);
        const started = Date.now();
        const r = jazzer(
          [
            bundle,
            corpus,
            `--timeout=${timeout}`,
            '--',
            `-max_total_time=${budget}`,
            `-rss_limit_mb=${RSS_LIMIT_MB}`,
            `-artifact_prefix=${work}/${name}-`,
            ...(entries.length > 0 ? [`-dict=${dict}`] : []),
          ],
          (budget + 300) * 1000,
        );
        const wall = Math.round((Date.now() - started) / 1000);
        const log = `${r.stdout ?? ''}${r.stderr ?? ''}`;
        const tail = log.slice(-4000);
        expect(
          r.status,
          `jazzer found a problem in ${name} (exit ${r.status}, signal ${r.signal}; artifacts in ${work}):\n${tail}`,
        ).toBe(0);
        const f = figures(log);
        expect(f, `no libFuzzer DONE line for ${name}:\n${tail}`).toBeDefined();
        const { runs, cov, ft, execPerSecond } = f as RunFigures;
        expect(runs, `${name}: no executions past the seeds`).toBeGreaterThan(seeds);
        expect(cov, `${name}: no coverage feedback`).toBeGreaterThan(0);

        // Replay the corpus once with coverage on (regression mode: no fuzzing) for a line figure.
        const covDir = path.join(work, `${name}-coverage`);
        const c = jazzer(
          [
            bundle,
            corpus,
            '--mode=regression',
            '--coverage',
            `--coverage_directory=${covDir}`,
            '--coverage_reporters=json-summary',
            `--timeout=${timeout}`,
          ],
          600_000,
        );
        let lines = 'coverage replay failed';
        const file = path.join(covDir, 'coverage-summary.json');
        if (c.status === 0 && fs.existsSync(file)) {
          const total = JSON.parse(fs.readFileSync(file, 'utf8')).total.lines;
          lines = `${total.covered}/${total.total} lines (${total.pct}%) of the bundled Coffer sources`;
        }
        const corpusNow = fs.readdirSync(corpus).length;
        const line =
          `${name}: ${runs} executions in ${wall} s (libFuzzer: ${execPerSecond}/s), cov ${cov} ft ${ft}, ` +
          `corpus ${seeds} seeds -> ${corpusNow} inputs, replay: ${lines}`;
        summary.push(line);
        console.log(line);
        passed++;
      },
      (seconds + 1500) * 1000,
    );
  }
});
