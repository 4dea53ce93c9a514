import { importNodeOnly, isNodeRuntime } from './platform.ts';

/**
 * Stops the worker threads the Node path uses for parallel gzip (they are unref'd, so a process
 * exits without this; tests and benchmarks call it to release them at once). No-op in browsers.
 */
export async function closeGzipWorkers(): Promise<void> {
  if (!isNodeRuntime()) return;
  const m = await importNodeOnly<{ closeGzipWorkers(): Promise<void> }>('./gzip-parallel.ts');
  await m.closeGzipWorkers();
}
