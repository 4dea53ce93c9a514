// `coffer backup|restore|verify|status|demo` through the real entry point (bin/coffer.js).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createCofferServer, DevSender, loadConfig } from '@coffer/server';
import { afterAll, describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../bin/coffer.js', import.meta.url));
const exec = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'coffer-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function coffer(args: string[], env: Record<string, string> = {}) {
  try {
    const r = await exec(process.execPath, [bin, ...args], {
      env: { ...process.env, ...env },
      timeout: 120_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('coffer backup --to / restore --from (local sealed files, no server)', () => {
  it('round-trips a generated history; wrong key refused with a stable code; --json output', async () => {
    const a = join(root, 'a');
    const file = join(root, 'chats.coffer');
    const b1 = await coffer([
      'backup',
      '--profile',
      a,
      '--to',
      file,
      '--enable',
      '--generate',
      '5:3000:6',
      '--json',
    ]);
    expect(b1.code).toBe(0);
    const out = JSON.parse(b1.stdout) as { bytes: number; aci: string; recoveryKey: string; target: string };
    expect(out.target).toBe('file');
    expect(out.bytes).toBe(statSync(file).size);
    expect(out.recoveryKey).toMatch(/^([0-9A-Z]{4} ){15}[0-9A-Z]{4}$/);

    const v = await coffer(['verify', '--profile', a, '--from', file, '--json']);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, source: 'file' });

    const b = join(root, 'b');
    const wrong = await coffer(['restore', '--profile', b, '--from', file, '--aci', out.aci, '--json'], {
      COFFER_RECOVERY_KEY: `${out.recoveryKey.slice(0, -1)}${out.recoveryKey.endsWith('A') ? 'B' : 'A'}`,
    });
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stdout).error.code).toBe('COFFER_ERR_WRONG_RECOVERY_KEY');

    const ok = await coffer([
      'restore',
      '--profile',
      b,
      '--from',
      file,
      '--aci',
      out.aci,
      '--key',
      out.recoveryKey,
    ]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Restored 3000 messages in 5 chats');

    const sa = JSON.parse((await coffer(['status', '--profile', a, '--json'])).stdout);
    const sb = JSON.parse((await coffer(['status', '--profile', b, '--json'])).stdout);
    expect(sb.counts).toEqual({ ...sa.counts, mediaFiles: sa.counts.mediaFiles });
    expect(sa.lastBackup.target).toBe('file');
    expect(sb.enabled).toBe(true);
  }, 300_000);
});

describe('coffer backup / restore against a server', () => {
  it('registers with a code, backs up, restores on a new profile; plain progress lines when not a TTY', async () => {
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: join(root, 'server'),
        host: '127.0.0.1',
        port: 27000 + (process.pid % 400),
        verification: { devOutbox: true },
        credentials: { keyBits: 1024 },
      } as never,
    });
    const server = await createCofferServer(config, {
      logger: false,
      jobs: false,
      sender: new DevSender(false),
    });
    const url = await server.listen();
    try {
      const a = join(root, 'sa');
      const common = ['--server', url, '--identifier', 'cli@example.org', '--dev-code'];
      const b1 = await coffer(['backup', '--profile', a, ...common, '--enable', '--generate', '3:2000:4']);
      expect(b1.code).toBe(0);
      expect(b1.stderr).toMatch(/upload: /);
      expect(b1.stdout).toMatch(/Backed up: /);
      const key = /\n\s+([0-9A-Z]{4}(?: [0-9A-Z]{4}){15})\n/.exec(b1.stderr)?.[1];
      expect(key).toBeDefined();
      const ver = await coffer(['verify', '--profile', a, '--json']);
      expect(JSON.parse(ver.stdout)).toMatchObject({ ok: true, source: 'server', chatItems: 2000 });
      const r = await coffer(['restore', '--profile', join(root, 'sb'), ...common, '--json'], {
        COFFER_RECOVERY_KEY: key!,
      });
      expect(r.code).toBe(0);
      const res = JSON.parse(r.stdout);
      expect(res.counts.messages).toBe(2000);
      expect(res.media.failed).toBe(0);
      const st = JSON.parse((await coffer(['status', '--profile', a, '--json'])).stdout);
      expect(st.lastVerified.at).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  }, 300_000);
});

describe('coffer demo', () => {
  it('runs the whole story with a small history and proves equality', async () => {
    const r = await coffer(['demo', '--messages', '3000', '--media', '8', '--chats', '4', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.equal).toBe(true);
    expect(out.refusedWrongKeyWith).toBe('COFFER_ERR_WRONG_RECOVERY_KEY');
    expect(out.restoredCounts.messages).toBe(3000);
    expect(Object.keys(out.timings)).toEqual(
      expect.arrayContaining(['generate', 'backup', 'restoreMessages', 'restoreMedia']),
    );
  }, 300_000);
});
