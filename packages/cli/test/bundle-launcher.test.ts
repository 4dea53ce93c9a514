// The compiled CLI (src/bundle.ts) and the launcher's choice between it and tsx (bin/coffer.js).
// Folders live under node_modules/.cache so the bundle's bare imports resolve from the repository's
// node_modules, and the shared packages/cli/dist is never touched.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseRecoveryKey } from '@coffer/crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { bundle, REPO_ROOT } from '../src/bundle.ts';

const run = promisify(execFile);
const work = join(REPO_ROOT, 'node_modules', '.cache', `coffer-cli-test-${process.pid}`);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the bundled CLI', () => {
  it('runs commands without tsx and loads the server only for the commands that need it', async () => {
    const out = join(work, 'bundle');
    const entry = fileURLToPath(new URL('../src/main.ts', import.meta.url));
    const r = await bundle(entry, out, 'coffer');
    expect(r.inputs).toBeGreaterThan(50);
    // A plain Node process (no --import tsx) runs the bundle.
    const runner = `
      const { main } = await import(${JSON.stringify(r.entry)});
      process.exitCode = await main(['node', 'coffer', ...process.argv.slice(1)]);
    `;
    const { stdout, stderr } = await run(process.execPath, [
      '--input-type=module',
      '-e',
      runner,
      'keygen',
      '--json',
    ]);
    expect(stderr).toBe('');
    const key = JSON.parse(stdout) as { recoveryKey: string; display: string };
    expect(parseRecoveryKey(key.display)).toBe(key.recoveryKey);
    // The entry chunk holds no server code: Fastify and the S3 client are imported by a later chunk.
    const main = readFileSync(fileURLToPath(r.entry), 'utf8');
    expect(main).not.toMatch(/from ["']fastify["']/);
    expect(main).not.toMatch(/from ["']@aws-sdk\/client-s3["']/);
    expect(main).not.toMatch(/tsx/);
  }, 60_000);
});

describe('the bundler', () => {
  it('refuses an import it cannot follow (it would load a .ts file at run time)', async () => {
    const dir = join(work, 'computed');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'dialect.ts'), 'export const d = 1;\n');
    const entry = join(dir, 'entry.ts');
    writeFileSync(
      entry,
      "const name = ['dia', 'lect'].join('');\nexport const load = () => import('./' + name + '.ts');\n",
    );
    await expect(bundle(entry, join(work, 'computed-out'), 'entry')).rejects.toThrow(
      /imports TypeScript at run time/,
    );
    writeFileSync(entry, "export const load = () => import('./dialect.ts');\n");
    const ok = await bundle(entry, join(work, 'computed-out'), 'entry');
    const mod = (await import(ok.entry)) as { load(): Promise<{ d: number }> };
    expect((await mod.load()).d).toBe(1);
  }, 60_000);
});

describe('bin/coffer.js', () => {
  // A copy of the real launcher in a miniature package: dist/ holds a "bundle" that says so, src/
  // the "sources" that tsx would run.
  const pkg = join(work, 'launcher');
  const input = join(pkg, 'src', 'input.ts');
  const setup = () => {
    rmSync(pkg, { recursive: true, force: true });
    for (const d of ['bin', 'dist', 'src']) mkdirSync(join(pkg, d), { recursive: true });
    copyFileSync(fileURLToPath(new URL('../bin/coffer.js', import.meta.url)), join(pkg, 'bin', 'coffer.js'));
    writeFileSync(join(pkg, 'package.json'), '{"type":"module"}\n');
    writeFileSync(
      join(pkg, 'dist', 'coffer.mjs'),
      "export const main = async () => { console.log('bundle'); return 0; };\n",
    );
    writeFileSync(
      join(pkg, 'src', 'main.ts'),
      "export const main = async (): Promise<number> => { console.log('tsx'); return 0; };\n",
    );
    writeFileSync(input, 'export const x = 1;\n');
    const { mtimeMs, size } = statSync(input);
    writeFileSync(
      join(pkg, 'dist', 'coffer.inputs.json'),
      JSON.stringify({ root: '..', inputs: [['src/input.ts', mtimeMs, size]] }),
    );
  };
  const launch = async (env: Record<string, string> = {}) =>
    (
      await run(process.execPath, [join(pkg, 'bin', 'coffer.js')], { env: { ...process.env, ...env } })
    ).stdout.trim();

  it('runs the bundle while every input is unchanged, and the sources as soon as one changes', async () => {
    setup();
    expect(await launch()).toBe('bundle');
    expect(await launch({ COFFER_CLI_TSX: '1' })).toBe('tsx');
    // An edit that keeps the size but changes the mtime.
    const later = new Date(Date.now() + 5000);
    utimesSync(input, later, later);
    expect(await launch()).toBe('tsx');
    // A removed input, and a missing manifest.
    setup();
    rmSync(input);
    expect(await launch()).toBe('tsx');
    setup();
    rmSync(join(pkg, 'dist', 'coffer.inputs.json'));
    expect(await launch()).toBe('tsx');
  }, 60_000);
});
