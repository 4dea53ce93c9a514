// Crash test: `coffer serve` as a child process, SIGKILLed in the middle of an upload and between the
// blob write and the commit transaction. After each restart the previous backup is intact and
// downloadable, and the interrupted upload resumes (or is found committed) and completes.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../../test-support/vectors.ts';
import { TestClient } from './helpers.ts';
import { fetchInject, tusUpload } from './socket-helpers.ts';

const PORT = 25100 + Math.floor(Math.random() * 50);
const base = `http://127.0.0.1:${PORT}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coffer-crash-'));
const configFile = path.join(dir, 'config.json');
fs.writeFileSync(configFile, JSON.stringify({ credentials: { keyBits: 1024 } }));
const children: ChildProcess[] = [];

async function startServe(env: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      'packages/cli/bin/coffer.js',
      'serve',
      '--data',
      path.join(dir, 'data'),
      '--port',
      String(PORT),
      '--config',
      configFile,
      '--dev-outbox',
      '--no-web',
    ],
    {
      cwd: repoRoot,
      env: { ...process.env, COFFER_LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 60_000);
    child.stdout?.on('data', (d) => {
      out += String(d);
      if (out.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on('data', (d) => {
      out += String(d);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
  return child;
}

async function kill9(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) await kill9(c);
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('crash safety of coffer serve (SIGKILL)', () => {
  it('keeps the previous backup and resumes uploads after kills mid-upload and mid-commit', {
    timeout: 240_000,
  }, async () => {
    let server = await startServe();
    const c = new TestClient(
      fetchInject(base),
      Date.now,
      `crash-${randomBytes(3).toString('hex')}@example.org`,
    );
    // verify through the dev outbox endpoint: the server is another process
    const s = await c.json({
      method: 'POST',
      url: '/v1/verification/sessions',
      payload: { identifier: c.identifier },
    });
    const ob = await c.json({
      method: 'GET',
      url: `/v1/dev/outbox?identifier=${encodeURIComponent(c.identifier)}`,
    });
    await c.json({
      method: 'PUT',
      url: `/v1/verification/sessions/${s.body.sessionId}/code`,
      payload: { code: ob.body.messages.at(-1).code },
    });
    const reg = await c.json({
      method: 'POST',
      url: '/v1/accounts',
      payload: { sessionId: s.body.sessionId },
    });
    c.aci = reg.body.aci;
    c.deviceToken = reg.body.deviceToken;
    expect((await c.fetchCredentials([0, 1])).status).toBe(200);
    expect((await c.setKey(1)).status).toBe(204);

    const download = async (version?: string) => {
      const ra = (await c.signed('GET', '/v1/archives/auth/read')).body;
      const url = version ? `${ra.backupUrl}?version=${version}` : ra.backupUrl;
      const res = await fetch(url, { headers: ra.headers });
      expect(res.status).toBe(200);
      return Buffer.from(await res.arrayBuffer());
    };
    const form = async (n: number) =>
      (await c.signed('GET', `/v1/archives/upload/form?uploadLength=${n}`)).body;

    // v1 committed normally
    const v1 = randomBytes(300 * 1024);
    await tusUpload(await form(v1.length), v1);
    expect((await download()).equals(v1)).toBe(true);

    // 1. SIGKILL in the middle of an upload
    const v2 = randomBytes(2 * 1024 * 1024);
    const f2 = await form(v2.length);
    let uploadUrl = '';
    let killed: Promise<void> | undefined;
    await expect(
      tusUpload(f2, v2, {
        chunkSize: 256 * 1024,
        onChunk: (accepted) => {
          if (accepted >= 512 * 1024 && !killed) killed = kill9(server);
        },
      }).then((r) => {
        uploadUrl = r.url ?? '';
      }),
    ).rejects.toThrow();
    await killed;
    server = await startServe();
    expect((await download()).equals(v1)).toBe(true); // previous backup intact
    const head = await fetch(`${base}/v1/uploads/${f2.uploadId}`, {
      method: 'HEAD',
      headers: { ...f2.headers, 'tus-resumable': '1.0.0' },
    });
    const offset = Number(head.headers.get('upload-offset'));
    expect(offset).toBeGreaterThanOrEqual(512 * 1024);
    expect(offset).toBeLessThan(v2.length);
    uploadUrl ||= `${base}/v1/uploads/${f2.uploadId}`;
    await tusUpload(f2, v2, { chunkSize: 256 * 1024, uploadUrl });
    expect((await download()).equals(v2)).toBe(true);

    // 2. SIGKILL between the blob write and the commit transaction
    await kill9(server);
    server = await startServe({ COFFER_FAULT_DELAY_COMMIT_MS: '20000' });
    const v3 = randomBytes(700 * 1024);
    const f3 = await form(v3.length);
    const pending = tusUpload(f3, v3).catch((err: unknown) => err);
    // wait until the blob store holds the new blob (the server then sleeps before the transaction)
    const blobsDir = path.join(dir, 'data', 'blobs', 'o', 'backups');
    const countBlobs = () =>
      fs
        .readdirSync(blobsDir, { recursive: true })
        .filter((f) => !fs.statSync(path.join(blobsDir, String(f))).isDirectory()).length;
    const before = countBlobs();
    const deadline = Date.now() + 30_000;
    while (countBlobs() === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(countBlobs()).toBe(before + 1);
    await kill9(server);
    expect(await pending).toBeInstanceOf(Error);
    server = await startServe();
    // the interrupted commit is completed at start-up; the previous version stays listed and readable
    const versions = (await c.signed('GET', '/v1/archives/versions')).body.versions as {
      versionId: string;
      size: number;
      current: boolean;
    }[];
    expect(versions.map((v) => v.size)).toEqual([v3.length, v2.length, v1.length]);
    expect((await download(versions[1]?.versionId)).equals(v2)).toBe(true);
    // the client resumes: the server reports the upload complete, and the backup is v3
    const resumed = await tusUpload(f3, v3, { uploadUrl: `${base}/v1/uploads/${f3.uploadId}` });
    expect(resumed.stopped).toBe(false);
    expect((await download()).equals(v3)).toBe(true);
    // a second process on the same data folder is refused while the first runs
    await expect(startServe()).rejects.toThrow(/COFFER_ERR_DATA_DIR_LOCKED/);
    // graceful shutdown: exit code 0 and the lock released
    const exit = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
    server.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(fs.existsSync(path.join(dir, 'data', 'coffer.lock'))).toBe(false);
  });
});
