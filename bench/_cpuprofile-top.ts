// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function, largest first.
//   node --import tsx bench/_cpuprofile-top.ts FILE.cpuprofile [N=40] [--last SECONDS]
// --last: only the samples of the profile's last SECONDS (a server's load phase, not its start-up).
// Used for the profile summaries in bench/profiles/ (see bench/README.md, performance notes).
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
const p = JSON.parse(readFileSync(process.argv[2] as string, 'utf8')) as {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
};
const lastArg = process.argv.indexOf('--last');
const lastUs = lastArg > 0 ? Number(process.argv[lastArg + 1]) * 1e6 : Number.POSITIVE_INFINITY;
const limit = Number(process.argv[3] && lastArg !== 3 ? process.argv[3] : 40);
const end = p.timeDeltas.reduce((a, b) => a + b, 0);
const dt = new Map<number, number>();
let at = 0;
p.samples.forEach((id, i) => {
  at += p.timeDeltas[i] ?? 0;
  if (at < end - lastUs) return;
  dt.set(id, (dt.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
});
const self = new Map<string, number>();
let total = 0;
for (const n of p.nodes) {
  const t = dt.get(n.id) ?? 0;
  total += t;
  const cf = n.callFrame;
  const where = cf.url ? ` ${cf.url.split('/').slice(-2).join('/')}` : '';
  const k = `${cf.functionName || '(anonymous)'}${where}`;
  self.set(k, (self.get(k) ?? 0) + t);
}
console.log(`total sampled ${(total / 1000).toFixed(0)} ms; self time by function:`);
for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
  console.log(`${(t / 1000).toFixed(0).padStart(7)} ms ${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`);
}
