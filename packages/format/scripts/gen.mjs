#!/usr/bin/env node
// Regenerates src/gen/ from proto/ with buf + ts-proto (options in buf.gen.yaml), then applies
// the post-processing steps below. Run: `npm run gen -w @coffer/format`. Never edit src/gen/ by hand.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const buf = join(pkgDir, '../../node_modules/.bin/buf');
execFileSync(buf, ['generate'], { cwd: pkgDir, stdio: 'inherit' });

// ts-proto ends a message silently when it meets field number 0 or an END_GROUP tag, returning a
// partial message and ignoring the rest of the bytes. Protobuf parsers (libsignal's included)
// reject such input, so a frame made of garbage must not "decode". Make both cases throw.
const lenient = /if \(\(tag & 7\) === 4 \|\| tag === 0\) \{\n(\s*)break;\n/g;
const strict =
  'if ((tag & 7) === 4 || tag === 0) {\n$1throw new globalThis.Error("invalid protobuf tag " + tag);\n';

function* tsFiles(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* tsFiles(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

let patched = 0;
for (const file of tsFiles(join(pkgDir, 'src/gen'))) {
  const src = readFileSync(file, 'utf8');
  const out = src.replace(lenient, (_m, indent) => {
    patched++;
    return strict.replace('$1', indent);
  });
  writeFileSync(file, out);
}
if (patched === 0) throw new Error('gen: expected ts-proto tag-0 handling not found; review scripts/gen.mjs');
console.log(`gen: src/gen regenerated (${patched} decoders made strict about invalid tags)`);
