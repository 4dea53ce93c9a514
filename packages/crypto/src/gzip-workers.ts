import { importNodeOnly, isNodeRuntime } from './platform.ts';

/**
 * Stops the worker threads the Node path uses for parallel gzip and media hashing (they are unref'd, so a process
 * exits without this; tests and benchmarks call it to release them at once). No-op in browsers.
 */
export async function closeGzipWorkers(): Promise<void> {
  if (!isNodeRuntime()) return;
  const m = await importNodeOnly<{ closeGzipWorkers(): Promise<void> }>('./gzip-parallel.ts');
  const h = await importNodeOnly<{ closeHashWorker(): Promise<void> }>('./hash-offload.ts');
  await Promise.all([m.closeGzipWorkers(), h.closeHashWorker()]);
}
