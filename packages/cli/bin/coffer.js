#!/usr/bin/env -S node --max-semi-space-size=4
// The flag caps V8's young generation at two 4 MiB semi-spaces (default: grows to 2 x 16 MiB in long
// runs only), so a backup of 1M messages peaks about as high as one of 100k (bench/README.md,
// performance notes > Memory). V8 reads it only at start-up, hence the shebang (`env -S`: coreutils
// 8.30+, macOS); `node bin/coffer.js` (npm start, tests) runs without it. bench/memory.ts launches
// its children with the flags of this line.
// The packages ship TypeScript sources ("internal packages"). `npm run build` also bundles the CLI
// into compiled JavaScript (packages/cli/dist/, src/bundle.ts): run it when it exists and
// every source file it was built from is unchanged, since a process without tsx's compiler and
// source maps is about 60 MiB smaller (bench/README.md, performance notes > Memory). Otherwise
// tsx compiles the sources on load, so a fresh clone, an edit or a test never runs stale code.
import { readFileSync, statSync } from 'node:fs';

/** URL of the bundled CLI, or undefined when it is missing or any of its inputs changed. */
function freshBundle() {
  const dist = new URL('../dist/', import.meta.url);
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(new URL('coffer.inputs.json', dist), 'utf8'));
  } catch {
    return undefined;
  }
  const root = new URL(`${manifest.root}/`, dist);
  for (const [path, mtimeMs, size] of manifest.inputs) {
    try {
      const st = statSync(new URL(path, root));
      if (st.mtimeMs !== mtimeMs || st.size !== size) return undefined;
    } catch {
      return undefined;
    }
  }
  return new URL('coffer.mjs', dist);
}

// COFFER_CLI_TSX=1 forces the TypeScript sources (debugging with source maps).
const bundled = process.env.COFFER_CLI_TSX === '1' ? undefined : freshBundle();
let main;
if (bundled) {
  ({ main } = await import(bundled.href));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../src/main.ts'));
}
process.exitCode = await main(process.argv);
