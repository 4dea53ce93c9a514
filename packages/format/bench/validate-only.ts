// Profiling helper: validates a plaintext backup file (varint-delimited BackupInfo + Frames) with
// readBackupBatches + BackupValidator only, K times, printing each run's time. Used with
//   node --import tsx --cpu-prof packages/format/bench/validate-only.ts FILE [K]
// to see where Coffer's side of bench/validate.ts spends its time without the generator and
// libsignal in the profile. `bench/validate.ts --save FILE` writes such a file.
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import { BackupValidator, readBackupBatches } from '@coffer/format';

const file = new Uint8Array(readFileSync(process.argv[2] as string));
const K = Number(process.argv[3] ?? 3);
// --gc: a full collection before each run, as bench/validate.ts does (each run then starts with a
// freshly shrunk young generation, which costs more than a steady state).
const fullGc = process.argv.includes('--gc');
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const chunks: Uint8Array[] = [];
for (let o = 0; o < file.length; o += 65536) chunks.push(file.subarray(o, o + 65536));
for (let r = 0; r < K; r++) {
  if (fullGc) gc();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const v = new BackupValidator({ purpose: 'remote-backup' });
  for await (const batch of readBackupBatches(chunks)) {
    for (const it of batch) {
      if (it.kind === 'frame') v.addFrame(it.frame, it);
      else v.addInfo(it.info);
    }
  }
  const s = v.finish();
  const c = process.cpuUsage(c0);
  console.log(
    `run ${r + 1}: ${((performance.now() - t0) / 1000).toFixed(3)} s (cpu ${((c.user + c.system) / 1e6).toFixed(3)} s), ${s.chatItems} chat items`,
  );
}
