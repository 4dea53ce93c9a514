// Soak profile only (vitest.soak.config.ts includes test/fuzz/*.soak.ts): runs each Jazzer.js fuzz
// target (test/fuzz/*.fuzz.ts) for a fixed budget, COFFER_FUZZ_SECONDS per target (default 60).
// The targets are bundled with esbuild into CommonJS so Jazzer instruments our sources.
//
// @jazzer.js/core 4 ships its libFuzzer addon prebuilt for glibc >= 2.38; on an older system the
// addon does not load. Then the same targets are driven by fast-check for the same budget (random
// and mutated inputs, no coverage guidance) and the run says so loudly: never a silent skip.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../test-support/vectors.ts';
import { targets } from './targets.ts';

const seconds = Number(process.env.COFFER_FUZZ_SECONDS ?? 60);
const names = Object.keys(targets);

function jazzerLoads(): string | undefined {
  try {
    const require = createRequire(path.join(repoRoot, 'package.json'));
    require('@jazzer.js/fuzzer');
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  }
}

describe('coverage-guided fuzzing (soak)', () => {
  const unavailable = jazzerLoads();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-fuzz-'));
  let failed = false; // keep the crashing inputs for inspection
  afterAll(() => {
    if (!failed) fs.rmSync(work, { recursive: true, force: true });
  });

  for (const name of names) {
    it(
      `${name}: ${seconds} s without a crash, hang or unexpected error`,
      async () => {
        if (unavailable) {
          console.warn(
            `JAZZER.JS UNAVAILABLE (${unavailable}); fuzzing ${name} with fast-check for ${seconds} s instead (no coverage guidance)`,
          );
          const target = targets[name] as (d: Buffer) => Promise<void> | void;
          const until = Date.now() + seconds * 1000;
          let runs = 0;
          while (Date.now() < until) {
            await fc.assert(
              fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (b) => {
                runs++;
                await target(Buffer.from(b));
              }),
              { numRuns: 200 },
            );
          }
          console.log(`${name}: ${runs} inputs`);
          expect(runs).toBeGreaterThan(0);
          return;
        }
        const bundle = path.join(work, `${name}.cjs`);
        execFileSync(
          process.execPath,
          [
            path.join(repoRoot, 'node_modules/esbuild/bin/esbuild'),
            path.join(repoRoot, `test/fuzz/${name}.fuzz.ts`),
            '--bundle',
            '--platform=node',
            '--format=cjs',
            `--outfile=${bundle}`,
            '--log-level=error',
            '--banner:js=const __coffer_meta_url = require("url").pathToFileURL(__filename).href;',
            '--define:import.meta.url=__coffer_meta_url',
          ],
          { stdio: 'pipe' },
        );
        const corpus = path.join(work, `${name}-corpus`);
        fs.mkdirSync(corpus, { recursive: true });
        const r = spawnSync(
          process.execPath,
          [
            path.join(repoRoot, 'node_modules/@jazzer.js/core/dist/cli.js'),
            bundle,
            corpus,
            '--',
            `-max_total_time=${seconds}`,
            '-timeout=10',
            '-rss_limit_mb=2048',
            `-artifact_prefix=${work}/${name}-`,
          ],
          { cwd: work, encoding: 'utf8', timeout: (seconds + 120) * 1000 },
        );
        const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.slice(-3000);
        console.log(`${name}:\n${tail.split('\n').slice(-6).join('\n')}`);
        if (r.status !== 0) failed = true;
        expect(r.status, `jazzer found a problem in ${name} (artifacts in ${work}):\n${tail}`).toBe(0);
      },
      (seconds + 180) * 1000,
    );
  }
});
