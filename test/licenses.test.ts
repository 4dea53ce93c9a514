import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../test-support/vectors.ts';

// Coffer is Apache-2.0: nothing that ships (every package reachable from a workspace's
// "dependencies") may be under a copyleft licence. libsignal (AGPL-3.0) is allowed only as a
// devDependency, for the cross-checking tests.
const COPYLEFT = /\b(A?GPL|LGPL|SSPL|EUPL|OSL)\b/i;

function runtimePackages(): Array<{ name: string; license: string; dir: string }> {
  const out = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: repoRoot,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const seen = new Map<string, { name: string; license: string; dir: string }>();
  for (const dir of out.split('\n').filter(Boolean)) {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      name?: string;
      license?: string | { type?: string };
      licenses?: Array<{ type?: string }>;
    };
    const license =
      typeof pkg.license === 'string'
        ? pkg.license
        : (pkg.license?.type ?? pkg.licenses?.map((l) => l.type).join(' OR ') ?? 'UNKNOWN');
    seen.set(dir, { name: pkg.name ?? dir, license, dir });
  }
  return [...seen.values()];
}

describe('runtime dependency licences', () => {
  it('no runtime dependency is copyleft, and libsignal is not among them', () => {
    const pkgs = runtimePackages();
    expect(pkgs.length).toBeGreaterThan(20);
    const names = new Set(pkgs.map((p) => p.name));
    expect(names.has('@coffer/server')).toBe(true);
    expect(names.has('@signalapp/libsignal-client')).toBe(false);
    // A dual licence ("BSD-2-Clause OR GPL-2.0-only") is fine when one choice is permissive.
    const copyleft = pkgs.filter((p) =>
      p.license
        .replace(/[()]/g, '')
        .split(/\s+OR\s+/i)
        .every((choice) => COPYLEFT.test(choice)),
    );
    expect(copyleft.map((p) => `${p.name}: ${p.license}`)).toEqual([]);
  });

  it('every workspace package is Apache-2.0 like the repository', () => {
    for (const p of runtimePackages().filter((p) => p.name.startsWith('@coffer/'))) {
      expect(`${p.name}: ${p.license}`).toBe(`${p.name}: Apache-2.0`);
    }
  });
});
