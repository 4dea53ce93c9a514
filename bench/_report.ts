// Shared result rows of the benchmarks. Each benchmark prints its own table; when run by
// `npm run bench` (no name) the dispatcher sets COFFER_BENCH_ROWS to a file and collects every
// benchmark's rows from it into one table (bench/run.ts).
import { appendFileSync } from 'node:fs';

export interface BenchRow {
  /** What was measured. */
  what: string;
  /** Coffer's figure. */
  coffer: string;
  /** The reference figure measured in the same run (or the fixed limit). */
  reference: string;
  /** Coffer relative to the reference (higher is better for speed ratios). */
  ratio: string;
  target: string;
  /** 'yes', 'NO', or '' for figures that are only reported. */
  met: string;
  note?: string;
}

export function report(bench: string, rows: BenchRow[]): void {
  console.table(rows);
  const file = process.env.COFFER_BENCH_ROWS;
  if (file) {
    for (const r of rows) appendFileSync(file, `${JSON.stringify({ bench, ...r })}\n`);
  }
}
