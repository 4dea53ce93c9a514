/**
 * Runs @jazzer.js/fuzzer 4 (libFuzzer in a Node addon) on Debian 12. Its only prebuilt Linux addon
 * was linked against glibc 2.38 and libstdc++ 13; Debian 12 (this machine and CI) has glibc 2.36
 * and libstdc++ 12, so loading it fails with "version `GLIBC_2.38' not found". The older majors
 * (1.x, 2.x) carry no binary at all: their install step downloads one from the project's release
 * page or builds libFuzzer from a downloaded LLVM tree, and neither download is reachable here.
 *
 * What the addon takes from the newer libraries is three functions (the C23 strtol/strtoul and an
 * empty libstdc++ hook). So, for the soak run only, a copy of the addon gets those version needs
 * marked weak (the loader then accepts their absence), and a 20-line shim built with the system
 * g++ (compat/glibc-2.38-shim.cc) is preloaded to supply the three functions. Before use, every
 * symbol bound to a weakened version is checked against the shim's list: a future addon needing
 * anything else fails here with the symbol's name instead of crashing mid-run.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../test-support/vectors.ts';

const here = path.join(repoRoot, 'test/fuzz/compat');
const SHIM_SOURCE = path.join(here, 'glibc-2.38-shim.cc');
const PRELOAD = path.join(here, 'load-patched-addon.cjs');
/** What the shim defines (compat/glibc-2.38-shim.cc). */
const SHIM_SYMBOLS = new Set(['__isoc23_strtol', '__isoc23_strtoul', '_ZSt21ios_base_library_initv']);

export interface JazzerRuntime {
  /** Extra environment for the process that runs the Jazzer.js CLI. */
  env: Record<string, string>;
  /** One line for the log: how the addon was loaded. */
  how: string;
}

function addonPath(): string {
  const require = createRequire(path.join(repoRoot, 'package.json'));
  const dir = path.dirname(require.resolve('@jazzer.js/fuzzer/package.json'));
  return path.join(dir, 'prebuilds', `fuzzer-${process.platform}-${process.arch}.node`);
}

/** Loads the addon in a child process; returns undefined or the loader's first error line. */
function loadError(env: Record<string, string>): string | undefined {
  const r = spawnSync(process.execPath, ['-e', "require('@jazzer.js/fuzzer')"], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status === 0) return undefined;
  const line = (r.stderr || r.stdout || `exit ${r.status}`).split('\n').find((l) => /Error|error/.test(l));
  return (line ?? r.stderr).trim();
}

interface Section {
  type: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
}

const SHT_DYNSYM = 11;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const VER_FLG_WEAK = 0x2;

/**
 * Marks the named version needs of an ELF64 little-endian shared object weak (in place) and
 * returns the dynamic symbols bound to them.
 */
export function weakenVersionNeeds(elf: Buffer, versions: Set<string>): string[] {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1)
    throw new Error('not an ELF64 little-endian object');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const sections: Section[] = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    sections.push({
      type: elf.readUInt32LE(o + 4),
      offset: Number(elf.readBigUInt64LE(o + 0x18)),
      size: Number(elf.readBigUInt64LE(o + 0x20)),
      link: elf.readUInt32LE(o + 0x28),
      info: elf.readUInt32LE(o + 0x2c),
      entsize: Number(elf.readBigUInt64LE(o + 0x38)),
    });
  }
  const cstr = (o: number) => elf.toString('latin1', o, elf.indexOf(0, o));
  const verneed = sections.find((s) => s.type === SHT_GNU_VERNEED);
  const versym = sections.find((s) => s.type === SHT_GNU_VERSYM);
  const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
  if (!verneed || !versym || !dynsym) throw new Error('no symbol versioning sections');
  const strtab = (sections[verneed.link] as Section).offset;
  const weakened = new Set<number>(); // version indexes (vna_other)
  let vn = verneed.offset;
  for (let n = 0; n < verneed.info; n++) {
    let aux = vn + elf.readUInt32LE(vn + 8);
    for (let k = 0; k < elf.readUInt16LE(vn + 2); k++) {
      if (versions.has(cstr(strtab + elf.readUInt32LE(aux + 8)))) {
        elf.writeUInt16LE(elf.readUInt16LE(aux + 4) | VER_FLG_WEAK, aux + 4);
        weakened.add(elf.readUInt16LE(aux + 6));
      }
      aux += elf.readUInt32LE(aux + 12);
    }
    vn += elf.readUInt32LE(vn + 12);
  }
  const dynstr = (sections[dynsym.link] as Section).offset;
  const bound: string[] = [];
  for (let i = 0; i < dynsym.size / dynsym.entsize; i++) {
    if (weakened.has(elf.readUInt16LE(versym.offset + 2 * i) & 0x7fff))
      bound.push(cstr(dynstr + elf.readUInt32LE(dynsym.offset + i * dynsym.entsize)));
  }
  return bound;
}

/** How to run the Jazzer.js CLI on this machine; throws with the loader's errors when it cannot. */
export function jazzerRuntime(): JazzerRuntime {
  const asShipped = loadError({});
  if (!asShipped) return { env: {}, how: '@jazzer.js/fuzzer prebuilt addon, as shipped' };
  if (!/version `[A-Z]+_[0-9.]+' not found/.test(asShipped) || process.platform !== 'linux')
    throw new Error(`the Jazzer.js addon does not load: ${asShipped}`);

  const original = addonPath();
  const bytes = fs.readFileSync(original);
  const shimSource = fs.readFileSync(SHIM_SOURCE);
  const tag = createHash('sha256').update(bytes).update(shimSource).digest('hex').slice(0, 12);
  const dir = path.join(os.tmpdir(), `coffer-jazzer-compat-${tag}`);
  fs.mkdirSync(dir, { recursive: true });
  const shim = path.join(dir, 'glibc-2.38-shim.so');
  if (!fs.existsSync(shim)) {
    execFileSync('g++', ['-shared', '-fPIC', '-O2', '-o', `${shim}.tmp`, SHIM_SOURCE], { stdio: 'pipe' });
    fs.renameSync(`${shim}.tmp`, shim);
  }
  const addon = path.join(dir, path.basename(original));
  const env = {
    LD_PRELOAD: [shim, process.env.LD_PRELOAD].filter(Boolean).join(':'),
    NODE_OPTIONS: [`--require ${PRELOAD}`, process.env.NODE_OPTIONS].filter(Boolean).join(' '),
    COFFER_JAZZER_ADDON: addon,
  };
  // Weaken the versions the loader names, one at a time, until the copy loads.
  const missing = new Set<string>();
  let error: string | undefined = asShipped;
  for (let round = 0; error && round < 8; round++) {
    const m = /version `([A-Z]+_[0-9.]+)' not found/.exec(error);
    if (!m || missing.has(m[1] as string)) break;
    missing.add(m[1] as string);
    const copy = Buffer.from(bytes);
    const bound = weakenVersionNeeds(copy, missing);
    const unsupplied = bound.filter((s) => !SHIM_SYMBOLS.has(s));
    if (unsupplied.length > 0)
      throw new Error(
        `the Jazzer.js addon needs ${[...missing].join(', ')} for ${unsupplied.join(', ')}, ` +
          `which ${path.relative(repoRoot, SHIM_SOURCE)} does not supply (loader: ${asShipped})`,
      );
    fs.writeFileSync(`${addon}.tmp`, copy);
    fs.renameSync(`${addon}.tmp`, addon);
    error = loadError(env);
  }
  if (error) throw new Error(`the Jazzer.js addon does not load, even with the compat shim: ${error}`);
  return {
    env,
    how: `@jazzer.js/fuzzer prebuilt addon with ${[...missing].join(', ')} supplied by compat/glibc-2.38-shim.cc`,
  };
}
