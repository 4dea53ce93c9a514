// Shared by the server benchmarks: `coffer serve` in its own process with limits opened up for load,
// and a client registered through the dev outbox with credentials and a backup-id key.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { TestClient } from '../packages/server/test/helpers.ts';
import { socketClient } from '../packages/server/test/socket-helpers.ts';
import { repoRoot } from '../test-support/vectors.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface BenchServer {
  base: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export interface BenchServeOptions {
  dir: string;
  port: number;
  /** Extra `limits` and top-level settings, on top of the benchmark defaults. */
  limits?: Record<string, number>;
  config?: Record<string, unknown>;
  env?: Record<string, string>;
  args?: string[];
  nodeArgs?: string[];
  /** The checkout to run `coffer serve` from (before/after comparisons); default this one. */
  root?: string;
}

/** Starts `coffer serve` (dev outbox on, no web app, request limits lifted) and waits until it listens. */
export async function startBenchServer(o: BenchServeOptions): Promise<BenchServer> {
  const root = o.root ?? repoRoot;
  const config = path.join(o.dir, 'bench.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      verification: {
        perIdentifier: { limit: 1000, windowMs: 3_600_000 },
        perAddress: { limit: 1e6, windowMs: 3_600_000 },
      },
      credentials: { maxRequestsPerDay: 1000 },
      limits: { requestsPerMinutePerAddress: 1e9, ...o.limits },
      logLevel: 'warn',
      ...o.config,
    }),
  );
  const child = spawn(
    process.execPath,
    [
      ...(o.nodeArgs ?? []),
      path.join(root, 'packages/cli/bin/coffer.js'),
      'serve',
      '--data',
      path.join(o.dir, 'data'),
      '--port',
      String(o.port),
      '--config',
      config,
      '--dev-outbox',
      '--no-web',
      ...(o.args ?? []),
    ],
    { cwd: root, env: { ...process.env, ...o.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`coffer serve did not start:\n${out}`)), 120_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Coffer server listening on')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('exit', (code) => reject(new Error(`coffer serve exited ${code}:\n${out}`)));
  });
  return {
    base: `http://127.0.0.1:${o.port}`,
    child,
    async stop() {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000).then(() => child.kill('SIGKILL'))]);
    },
  };
}

/**
 * Registers a fresh account (code read from the dev outbox), fetches today's credential of one type
 * (1 messages, 2 media) and sets that backup id's key.
 */
export async function registerBenchClient(base: string, label: string, type: 1 | 2): Promise<TestClient> {
  const c = socketClient(base, Date.now, `${label}-${randomBytes(3).toString('hex')}@example.org`);
  const s = await c.json({
    method: 'POST',
    url: '/v1/verification/sessions',
    payload: { identifier: c.identifier },
  });
  const ob = await c.json({
    method: 'GET',
    url: `/v1/dev/outbox?identifier=${encodeURIComponent(c.identifier)}`,
  });
  const code = ob.body.messages.at(-1).code as string;
  await c.json({
    method: 'PUT',
    url: `/v1/verification/sessions/${s.body.sessionId}/code`,
    payload: { code },
  });
  const r = await c.json({ method: 'POST', url: '/v1/accounts', payload: { sessionId: s.body.sessionId } });
  if (r.status !== 200) throw new Error(`register: ${r.status}`);
  c.aci = r.body.aci;
  c.deviceToken = r.body.deviceToken;
  c.level = r.body.level;
  if ((await c.fetchCredentials([0], c.level, [type])).status !== 200) throw new Error('credentials');
  if ((await c.setKey(type)).status !== 204) throw new Error('set key');
  return c;
}
