/**
 * Vitest global setup (runs once, in the main process, before any test worker starts).
 *
 * PostgreSQL needs nothing here: tests connect to COFFER_TEST_PG_URL (or the default) and make
 * their own schema. S3 is different: when COFFER_TEST_S3_URL is unset (a developer's machine),
 * a throwaway OpenStack Swift with the S3 API is started ON DEMAND - only when the first test
 * asks for it (see `s3BaseUrl()` in services.ts), so `npx vitest run packages/crypto` does not pay
 * the 5-15 s start. Workers ask through a small HTTP endpoint on a Unix socket whose path is
 * passed in the environment (forks inherit process.env as it is after this setup ran).
 * Teardown stops Swift and removes its data folder.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropRunSchemas, S3_TEST_SECRET, S3_TEST_USER, sharedScriptsDir } from './services.ts';

// Lazily started Swift uses ports from the scale-out range (26000-26999), 5 per instance.
const SWIFT_PORT_FIRST = 26500;
const SWIFT_PORT_LAST = 26795;

export default async function setup(): Promise<() => Promise<void>> {
  const runId = process.env.COFFER_TEST_RUN_ID ?? `r${Date.now().toString(36)}${process.pid.toString(36)}`;
  process.env.COFFER_TEST_RUN_ID = runId;

  let control: Server | undefined;
  let swift: { dir: string; url: string } | undefined;
  let starting: Promise<string> | undefined;

  if (!process.env.COFFER_TEST_S3_URL) {
    const socketDir = mkdtempSync(join(tmpdir(), 'coffer-test-ctl-'));
    const socketPath = join(socketDir, 'services.sock');
    control = createServer((req, res) => {
      if (req.method !== 'POST' || req.url !== '/s3') {
        res.writeHead(404).end();
        return;
      }
      starting ??= startSwift().then((s) => {
        swift = s;
        return s.url;
      });
      starting.then(
        (url) => res.writeHead(200, { 'content-type': 'text/plain' }).end(url),
        (err: unknown) => res.writeHead(503, { 'content-type': 'text/plain' }).end(String(err)),
      );
    });
    await new Promise<void>((resolve) => control!.listen(socketPath, resolve));
    process.env.COFFER_TEST_SERVICES_SOCKET = socketPath;
    control.on('close', () => rmSync(socketDir, { recursive: true, force: true }));
  }

  return async () => {
    await dropRunSchemas(runId).catch(() => undefined);
    if (control) await new Promise<void>((resolve) => control.close(() => resolve()));
    if (starting) await starting.catch(() => undefined);
    if (swift) {
      await run('bash', [join(sharedScriptsDir(), 's3-swift.sh'), '--stop', swift.dir]).catch(
        () => undefined,
      );
      rmSync(swift.dir, { recursive: true, force: true });
    }
  };
}

async function startSwift(): Promise<{ dir: string; url: string }> {
  const port = await findFreePortBlock();
  const dir = mkdtempSync(join(tmpdir(), 'coffer-test-swift-'));
  const script = join(sharedScriptsDir(), 's3-swift.sh');
  // If this run is killed (no teardown runs), a detached watchdog stops Swift once we are gone.
  spawn(
    'bash',
    [
      '-c',
      // (twice: a start still under way when we died may bring servers up after the first stop)
      'while kill -0 "$0" 2>/dev/null; do sleep 2; done; for i in 1 2; do bash "$1" --stop "$2" >/dev/null 2>&1; sleep 10; done; rm -rf "$2"',
      String(process.pid),
      script,
      dir,
    ],
    { detached: true, stdio: 'ignore' },
  ).unref();
  try {
    // 1 MiB parts keep the multipart tests small (AWS's 5 MiB minimum is the driver's default).
    await run('bash', [script, dir, String(port)], { S3_MIN_PART_SIZE: '1048576' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `could not start a throwaway OpenStack Swift (${script}): ${(err as Error).message}\n` +
        'Install it (apt-get install -y --no-install-recommends swift swift-proxy swift-object ' +
        'swift-container swift-account memcached) or point COFFER_TEST_S3_URL at an S3-compatible store.',
    );
  }
  const user = encodeURIComponent(S3_TEST_USER);
  const secret = encodeURIComponent(S3_TEST_SECRET);
  const endpoint = encodeURIComponent(`http://127.0.0.1:${port}`);
  return {
    dir,
    url: `s3://${user}:${secret}@coffer-test?endpoint=${endpoint}&region=us-east-1&forcePathStyle=true`,
  };
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`exit ${code}: ${output.trim().slice(-2000)}`)),
    );
  });
}

async function findFreePortBlock(): Promise<number> {
  // Start at a per-process offset so two concurrent runs on one machine rarely collide.
  const slots = (SWIFT_PORT_LAST - SWIFT_PORT_FIRST) / 5 + 1;
  const first = process.pid % slots;
  for (let i = 0; i < slots; i++) {
    const port = SWIFT_PORT_FIRST + ((first + i) % slots) * 5;
    let free = true;
    for (let p = port; p < port + 5 && free; p++) free = await portFree(p);
    if (free) return port;
  }
  throw new Error(`no free block of 5 ports between ${SWIFT_PORT_FIRST} and ${SWIFT_PORT_LAST + 4}`);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createNetServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}
