/**
 * `coffer serve` as a child process for crash tests: start it on a data folder and a port, wait for
 * "listening", SIGKILL it at any moment, start it again on the same folder. Output (pino JSON logs
 * and stderr) is kept for secrets scans. The CLI's `serve` command is the real entry point
 * (packages/cli/src/commands/serve.ts), so a crash here is a crash of what operators run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePortInRange } from './services.ts';
import { repoRoot } from './vectors.ts';

export interface CofferProcess {
  url: string;
  port: number;
  child: ChildProcess;
  output(): string;
  /** SIGKILL: no shutdown hook runs (what a power cut or OOM kill does). */
  kill(): Promise<void>;
  /** SIGTERM and wait for the graceful shutdown. */
  stop(): Promise<void>;
}

export interface ServeOptions {
  dataDir: string;
  port?: number;
  /** Written to <dataDir>/../<basename>.config.json and passed with --config. */
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  portRange?: [number, number];
  timeoutMs?: number;
}

export async function startCofferProcess(o: ServeOptions): Promise<CofferProcess> {
  return (await prepareCofferProcess(o)).go();
}

export interface PreparedProcess {
  /** Starts serving (binds the port, takes the data-folder lock) and waits for "listening". */
  go(): Promise<CofferProcess>;
  /** Ends a standby that was never started. */
  discard(): Promise<void>;
}

/**
 * Spawns the server process now; with `standby: true` it loads its modules and waits, so `go()`
 * after a SIGKILL of the previous process is fast (test-support/serve-standby.ts). Without it, the
 * real `coffer` bin is run (`go()` then only waits for it).
 */
export async function prepareCofferProcess(
  o: ServeOptions & { standby?: boolean },
): Promise<PreparedProcess> {
  const port = o.port ?? (await freePortInRange(...(o.portRange ?? [29000, 29299])));
  fs.mkdirSync(o.dataDir, { recursive: true });
  const args = [
    '--data',
    o.dataDir,
    '--port',
    String(port),
    '--host',
    '127.0.0.1',
    '--dev-outbox',
    '--no-web',
  ];
  if (o.config) {
    const file = `${o.dataDir.replace(/\/+$/, '')}.config.json`;
    fs.writeFileSync(file, JSON.stringify(o.config));
    args.push('--config', file);
  }
  const entry = o.standby
    ? ['--import', 'tsx', path.join(repoRoot, 'test-support/serve-standby.ts')]
    : [path.join(repoRoot, 'packages/cli/bin/coffer.js'), 'serve'];
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: repoRoot,
    env: { ...process.env, COFFER_LOG_LEVEL: 'info', ...o.env },
    stdio: [o.standby ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let fail: (e: Error) => void = () => {};
  const started = new Promise<void>((resolve, reject) => {
    fail = reject;
    const onData = () => {
      if (out.includes('Coffer server listening on')) {
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      reject(new Error(`coffer serve exited with ${code} before listening:\n${out.slice(-2000)}`));
    });
  });
  started.catch(() => undefined);
  const proc: CofferProcess = {
    url: `http://127.0.0.1:${port}`,
    port,
    child,
    output: () => out,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  return {
    async go() {
      if (o.standby) child.stdin?.end('go\n');
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        fail(new Error(`coffer serve did not start in time:\n${out.slice(-2000)}`));
      }, o.timeoutMs ?? 30_000);
      try {
        await started;
      } finally {
        clearTimeout(timer);
      }
      return proc;
    },
    async discard() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
