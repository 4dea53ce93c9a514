// src/gen/ is generated ("never edited by hand", issue 3): regenerate it from proto/ with the same
// script into a temporary folder and require the committed files to be byte-for-byte the same, so
// a hand edit, a schema change without `npm run gen`, or a changed post-processing step fails here.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const committed = path.join(pkgDir, 'src/gen');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-gen-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function files(dir: string, base = dir): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const p = path.join(dir, e.name);
      return e.isDirectory() ? files(p, base) : [path.relative(base, p)];
    })
    .sort();
}

describe('generated codec', () => {
  it('src/gen is exactly what scripts/gen.mjs makes from proto/', () => {
    execFileSync(process.execPath, [path.join(pkgDir, 'scripts/gen.mjs'), '--out', tmp], {
      cwd: pkgDir,
      stdio: 'pipe',
    });
    const fresh = path.join(tmp, 'src/gen');
    const names = files(committed);
    expect(files(fresh)).toEqual(names);
    expect(names).toContain('Backup.ts');
    for (const name of names) {
      const same = fs
        .readFileSync(path.join(fresh, name))
        .equals(fs.readFileSync(path.join(committed, name)));
      expect(same, `src/gen/${name} differs from a fresh \`npm run gen -w @coffer/format\``).toBe(true);
    }
  }, 120_000);
});
