// Bundles the `coffer` CLI into compiled JavaScript (packages/cli/dist/) so bin/coffer.js can run
// it without tsx: no TypeScript compiler or esbuild service in the process, no source maps held in
// memory. A client process that only loaded its modules was about 125 MiB through tsx
// (bench/README.md, performance notes > Memory).
//
//   node --import tsx packages/cli/src/bundle.ts      (part of `npm run build`)
//
// What is bundled: the workspace packages (@coffer/*, TypeScript sources) and the few CommonJS
// dependencies whose named exports Node's ESM loader cannot see (tsx papers over that at run
// time). Every other dependency stays an ordinary import from node_modules, loaded by Node as it
// is; better-sqlite3 is native and must stay external. Commands that need the server load it
// through dynamic import(), which becomes a separate chunk, so `coffer backup` never parses it.
//
// Next to the bundle, `coffer.inputs.json` lists every bundled source file with its mtime and size
// (and node_modules/.package-lock.json, which npm rewrites on every install); bin/coffer.js runs
// the bundle only while all of them are unchanged, and otherwise falls back to tsx, so an edit
// never runs stale code.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = resolve(here, '../../..');
export const CLI_DIST = resolve(here, '../dist');
/** Written by npm on every install; a changed dependency makes the bundle stale. */
const NPM_STATE = 'node_modules/.package-lock.json';
/** CommonJS packages imported with named imports that Node's cjs-module-lexer does not detect. */
const BUNDLED_DEPENDENCIES = ['pako'];

/**
 * Workspace sources are bundled; bare imports of dependencies stay imports, except the CommonJS
 * packages above. `import.meta.url` in a bundled file is rewritten to that file's original URL
 * relative to the bundle, so paths computed from it (the web app's dist folder) stay right.
 */
function cofferPlugin(outdir: string): Plugin {
  return {
    name: 'coffer-cli',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('@coffer/') || args.path.startsWith('node:')) return undefined;
        const pkg = args.path.startsWith('@')
          ? args.path.split('/').slice(0, 2).join('/')
          : args.path.split('/')[0];
        if (BUNDLED_DEPENDENCIES.includes(pkg as string)) return undefined;
        return { external: true };
      });
      b.onLoad({ filter: /[\\/]packages[\\/][^\\/]+[\\/]src[\\/].*\.ts$/ }, (args) => {
        let src = readFileSync(args.path, 'utf8');
        if (src.includes('import.meta.url')) {
          const rel = relative(outdir, args.path).split('\\').join('/');
          src = src.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`);
        }
        if (args.path.endsWith(`crypto${'/'}src${'/'}platform.ts`))
          src = staticNodeOnlyImports(args.path, src);
        return { contents: src, loader: 'ts' };
      });
    },
  };
}

/**
 * @coffer/crypto loads its Node-only modules with importNodeOnly('./x.ts') so browser bundlers do
 * not follow them; in this Node bundle they must be real imports (Node cannot load the .ts
 * files). The specifiers are found in crypto's sources and routed to static import() calls.
 */
function staticNodeOnlyImports(platformPath: string, src: string): string {
  const dir = dirname(platformPath);
  const specifiers = new Set<string>();
  for (const f of ['platform.ts', 'gzip-workers.ts', 'backup-source.ts', 'hash-offload.ts']) {
    let text: string;
    try {
      text = readFileSync(join(dir, f), 'utf8');
    } catch {
      continue;
    }
    for (const m of text.matchAll(/importNodeOnly\b[^;]*?\(\s*'(\.\/[\w.-]+\.ts)'\s*\)/g))
      specifiers.add(m[1] as string);
  }
  const head = 'export function importNodeOnly<T>(specifier: string): Promise<T> {';
  if (!src.includes(head) || specifiers.size === 0) {
    throw new Error('bundle: @coffer/crypto importNodeOnly changed; update packages/cli/src/bundle.ts');
  }
  const table = [...specifiers]
    .map((s) => `  ${JSON.stringify(s)}: () => import(${JSON.stringify(s)}),`)
    .join('\n');
  return src.replace(
    head,
    `const BUNDLED_NODE_ONLY: Record<string, () => Promise<unknown>> = {\n${table}\n};\n${head}\n  const bundled = BUNDLED_NODE_ONLY[specifier];\n  if (bundled) return bundled() as Promise<T>;`,
  );
}

export interface BundleResult {
  entry: string;
  inputs: number;
}

/**
 * Bundles `entry` (a TypeScript file) to `outdir/<name>.mjs` plus content-hashed chunks. Safe while
 * processes run the previous bundle: new chunks are added beside the old ones (a running server
 * still finds the lazily imported chunks it was built with), the entry and the manifest are each
 * replaced with one rename, and only chunks unused for a day are removed.
 */
export async function bundle(entry: string, outdir: string, name: string): Promise<BundleResult> {
  const tmp = `${outdir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  mkdirSync(outdir, { recursive: true });
  try {
    const result = await build({
      absWorkingDir: REPO_ROOT,
      entryPoints: { [name]: entry },
      outdir: tmp,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      outExtension: { '.js': '.mjs' },
      // Chunks beside the entry: the import.meta.url rewrite below is relative to this folder.
      chunkNames: '[name]-[hash]',
      metafile: true,
      logLevel: 'warning',
      // Keep function and class names: error codes and stack traces stay readable.
      keepNames: true,
      plugins: [cofferPlugin(outdir)],
    });
    const inputs = Object.keys(result.metafile.inputs).filter((p) => !p.startsWith('node_modules/'));
    inputs.push(NPM_STATE, ...packageJsons(inputs));
    const stamp = inputs.map((p) => {
      const st = statSync(join(REPO_ROOT, p));
      return [p, st.mtimeMs, st.size];
    });
    // An import esbuild could not follow (a computed specifier) would load a .ts file at run time
    // and fail only when that code path runs (it happened to `serve --db postgres://`): refuse it.
    for (const out of Object.keys(result.metafile.outputs)) {
      const code = readFileSync(join(REPO_ROOT, out), 'utf8');
      const m = /\bimport\(\s*[^)]*\.ts\b[^)]*\)/.exec(code);
      if (m)
        throw new Error(
          `bundle: ${out} imports TypeScript at run time (${m[0].slice(0, 80)}); use a literal specifier`,
        );
    }
    const entryFile = `${name}.mjs`;
    const manifest = `${name}.inputs.json`;
    writeFileSync(
      join(tmp, manifest),
      `${JSON.stringify({ root: relative(outdir, REPO_ROOT), inputs: stamp })}\n`,
    );
    const outputs = readdirSync(tmp);
    for (const f of outputs) {
      if (f !== entryFile && f !== manifest && !existsSync(join(outdir, f)))
        renameSync(join(tmp, f), join(outdir, f));
    }
    renameSync(join(tmp, entryFile), join(outdir, entryFile));
    renameSync(join(tmp, manifest), join(outdir, manifest));
    const dayAgo = Date.now() - 86_400_000;
    for (const f of readdirSync(outdir)) {
      if (!outputs.includes(f) && f.endsWith('.mjs') && statSync(join(outdir, f)).mtimeMs < dayAgo)
        rmSync(join(outdir, f));
    }
    return { entry: pathToFileURL(join(outdir, entryFile)).href, inputs: stamp.length };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The package.json of each workspace package a bundle includes ("exports" decide what resolves). */
function packageJsons(inputs: string[]): string[] {
  const pkgs = new Set<string>();
  for (const p of inputs) {
    const m = /^(packages\/[^/]+)\//.exec(p);
    if (m) pkgs.add(`${m[1]}/package.json`);
  }
  return [...pkgs];
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const r = await bundle(join(here, 'main.ts'), CLI_DIST, 'coffer');
  console.log(
    `coffer CLI bundled: ${relative(process.cwd(), fileURLToPath(r.entry))} (${r.inputs} inputs checked at launch)`,
  );
}
