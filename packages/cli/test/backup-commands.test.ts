// `coffer validate | inspect | export` run in-process through main() on the shared vectors.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  deriveBackupId,
  deriveBackupKey,
  deriveMessageBackupKey,
  generateRecoveryKey,
  sealBackupToBytes,
} from '@coffer/crypto';
import { BackupInfo, Frame, parseJsonProto, readBackupAll, writeBackup } from '@coffer/format';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { vectorPath } from '../../../test-support/vectors.ts';
import { main } from '../src/main.ts';

const smbt = vectorPath('signal-message-backup-tests/test-cases');
const cases = vectorPath('libsignal/rust/message-backup/tests/res/test-cases');
const legacy = `${cases}/valid-encrypted/legacy-account.binproto.encrypted`;
const modern = `${cases}/valid-encrypted/new-account.binproto.encrypted`;
const KEY = ['--key', 'm'.repeat(64), '--aci', '11111111-1111-1111-1111-111111111111'];
const TOKEN = ['--fs-token', 'ab'.repeat(32)];

let out = '';
let err = '';
beforeEach(() => {
  out = '';
  err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    err += String(s);
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = 0;
});

async function coffer(...args: string[]): Promise<number> {
  out = '';
  err = '';
  return main(['node', 'coffer', ...args]);
}

function messages(b: { info: BackupInfo; frames: Frame[] }): string[] {
  const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');
  return [hex(BackupInfo.encode(b.info).finish()), ...b.frames.map((f) => hex(Frame.encode(f).finish()))];
}

describe('coffer validate', () => {
  it('accepts every Signal-Message-Backup-Tests .binproto and reports its counts', async () => {
    const files = (await readdir(smbt)).filter((f) => f.endsWith('.binproto'));
    expect(files).toHaveLength(454);
    const bad: string[] = [];
    for (const f of files) {
      const code = await coffer('validate', `${smbt}/${f}`, '--json');
      const r = JSON.parse(out) as {
        ok: boolean;
        summary?: { frames: number; framesByKind: Record<string, number> };
      };
      if (code !== 0 || !r.ok) bad.push(`${f}: ${out}`);
      else if (r.summary?.framesByKind.account !== 1) bad.push(`${f}: no account counted`);
    }
    expect(bad).toEqual([]);
  }, 120_000);

  it('prints a text summary: frames by kind, chats, messages, attachments', async () => {
    const f = `${smbt}/chat_item_standard_message_standard_attachments_01.binproto`;
    expect(await coffer('validate', f)).toBe(0);
    expect(out).toMatch(/valid backup for remote-backup; binproto/);
    expect(out).toMatch(/frames {7}\d+ \(account 1, recipient \d+, chat \d+, chatItem \d+/);
    expect(out).toMatch(/messages {5}[1-9]/);
    expect(out).toMatch(/attachments {2}[1-9]/);
  });

  it('judges the libsignal .jsonproto cases: 13 valid, 6 invalid with the expected reason and location', async () => {
    for (const f of (await readdir(`${cases}/valid`)).filter((n) => n.endsWith('.jsonproto'))) {
      expect(await coffer('validate', `${cases}/valid/${f}`), `${f}: ${err}`).toBe(0);
    }
    for (const f of (await readdir(`${cases}/invalid`)).filter((n) => n.endsWith('.jsonproto'))) {
      const expected = (await readFile(`${cases}/invalid/${f}.expected`, 'utf8')).trim();
      expect(await coffer('validate', `${cases}/invalid/${f}`), f).toBe(1);
      expect(err, f).toContain('INVALID');
      expect(err, f).toContain(expected);
      expect(await coffer('validate', `${cases}/invalid/${f}`, '--json'), f).toBe(1);
      const r = JSON.parse(out) as { ok: boolean; error: { code: string; message: string } };
      expect(r.ok).toBe(false);
      expect(r.error.code).toBe('COFFER_ERR_BACKUP_INVALID');
    }
    // the location is printed
    await coffer('validate', `${cases}/invalid/chat-pinned-order-conflict.jsonproto`);
    expect(err).toMatch(/at frame \d+ \(chat\), byte offset \d+/);
  });

  it('validates sealed backups with --key/--aci (legacy) and --fs-token (modern)', async () => {
    expect(await coffer('validate', legacy, ...KEY)).toBe(0);
    expect(out).toMatch(/sealed \(legacy layout\)/);
    expect(await coffer('validate', modern, ...KEY, ...TOKEN, '--purpose', 'device-transfer')).toBe(0);
    expect(out).toMatch(/valid backup for device-transfer; sealed \(modern layout\)/);
  });

  it('says what is missing or wrong when a sealed backup cannot be opened', async () => {
    expect(await coffer('validate', modern)).toBe(1);
    expect(err).toContain('COFFER_ERR_CLI_KEY_REQUIRED');
    expect(await coffer('validate', modern, ...KEY)).toBe(1);
    expect(err).toContain('COFFER_ERR_CLI_FS_TOKEN_REQUIRED');
    expect(
      await coffer(
        'validate',
        legacy,
        '--key',
        'n'.repeat(64),
        '--aci',
        '11111111-1111-1111-1111-111111111111',
        '--json',
      ),
    ).toBe(1);
    expect(JSON.parse(out)).toMatchObject({ ok: false, error: { code: 'COFFER_ERR_BACKUP_KEY_MISMATCH' } });
    // a legacy sealed file (no magic) given without a key: decoding fails, with a hint
    expect(await coffer('validate', legacy)).toBe(1);
    expect(err).toMatch(/INVALID: .*hint: if this is an encrypted backup, pass --key/s);
    // an unencrypted file given without a key that is really garbage
    const dir = await mkdtemp(join(tmpdir(), 'coffer-cli-'));
    try {
      await writeFile(join(dir, 'garbage.binproto'), Uint8Array.of(5, 0, 1, 2, 3, 4));
      expect(await coffer('validate', join(dir, 'garbage.binproto'))).toBe(1);
      expect(err).toMatch(/INVALID: .*code COFFER_ERR_FRAME_DECODE/s);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a backup Coffer writes and seals', () => {
  it('validates, inspects and exports with a fresh recovery key, and a tampered copy is refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'coffer-sealed-'));
    try {
      const source = await readBackupAll(
        new Uint8Array(await readFile(`${smbt}/chat_item_standard_message_standard_attachments_01.binproto`)),
      );
      const recoveryKey = generateRecoveryKey();
      const aci = '5a1b2c3d-0000-4000-8000-00000000abcd';
      const backupKey = deriveBackupKey(recoveryKey);
      const sealed = await sealBackupToBytes(
        writeBackup(source.info, source.frames, { framesPerChunk: 2 }),
        deriveMessageBackupKey(backupKey, deriveBackupId(backupKey, aci)),
      );
      const file = join(dir, 'backup.bin');
      await writeFile(file, sealed);
      const key = ['--key', recoveryKey, '--aci', aci];
      expect(await coffer('validate', file, ...key, '--json'), err).toBe(0);
      expect(JSON.parse(out)).toMatchObject({
        ok: true,
        kind: 'sealed',
        summary: { frames: source.frames.length },
      });
      expect(await coffer('inspect', file, ...key)).toBe(0);
      expect(out).toContain('MAC verified');
      const target = join(dir, 'out.jsonproto');
      expect(await coffer('export', file, ...key, '--out', target)).toBe(0);
      expect(messages(parseJsonProto(await readFile(target, 'utf8')))).toEqual(messages(source));
      // one flipped ciphertext bit: nothing is read, nothing is written
      const tampered = new Uint8Array(sealed);
      tampered[40] = (tampered[40] as number) ^ 1;
      await writeFile(file, tampered);
      await rm(target);
      expect(await coffer('export', file, ...key, '--out', target)).toBe(1);
      expect(err).toContain('COFFER_ERR_BACKUP_KEY_MISMATCH');
      expect((await readdir(dir)).sort()).toEqual(['backup.bin']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('coffer inspect', () => {
  it('prints the summary of a sealed backup', async () => {
    expect(await coffer('inspect', modern, ...KEY, ...TOKEN)).toBe(0);
    expect(out).toMatch(/sealed backup, modern layout, 701 bytes; MAC verified/);
    expect(out).toMatch(/backup time {2}2024-01-19T/);
    expect(out).toMatch(/frames {7}3 \(account 1, recipient 1, chat 1\)/);
    expect(await coffer('inspect', legacy, ...KEY, '--json')).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ ok: true, layout: 'legacy', summary: { frames: 3, chats: 1 } });
  });

  it('requires --key and --aci', async () => {
    expect(await coffer('inspect', legacy)).not.toBe(0);
    expect(err).toMatch(/required option '--key/);
  });
});

describe('coffer export', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'coffer-export-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes the plaintext JSON form, which reads back to the same messages', async () => {
    const target = join(dir, 'backup.jsonproto');
    expect(await coffer('export', modern, ...KEY, ...TOKEN, '--format', 'json', '--out', target)).toBe(0);
    expect(await readdir(dir)).toEqual(['backup.jsonproto']);
    const exported = parseJsonProto(await readFile(target, 'utf8'));
    const source = parseJsonProto(await readFile(`${modern}.source.jsonproto`, 'utf8'));
    expect(messages(exported)).toEqual(messages(source));
    // and from an unencrypted .binproto
    const bin = `${smbt}/account_data_01.binproto`;
    expect(await coffer('export', bin, '--out', target)).toBe(0);
    const back = parseJsonProto(await readFile(target, 'utf8'));
    expect(messages(back)).toEqual(messages(await readBackupAll(new Uint8Array(await readFile(bin)))));
  });

  it('leaves no file behind when it fails (wrong key, damaged file), and keeps an existing file', async () => {
    const target = join(dir, 'out.jsonproto');
    expect(
      await coffer(
        'export',
        legacy,
        '--key',
        'n'.repeat(64),
        '--aci',
        '11111111-1111-1111-1111-111111111111',
        '--out',
        target,
      ),
    ).toBe(1);
    expect(err).toContain('COFFER_ERR_BACKUP_KEY_MISMATCH');
    expect(await readdir(dir)).toEqual([]);
    // truncated sealed file
    const sealed = await readFile(legacy);
    const damaged = join(dir, 'damaged.encrypted');
    await writeFile(damaged, sealed.subarray(0, sealed.length - 16));
    expect(await coffer('export', damaged, ...KEY, '--out', target)).toBe(1);
    expect(await readdir(dir)).toEqual(['damaged.encrypted']);
    // a failing export does not touch an earlier good export
    await writeFile(target, 'earlier export');
    expect(await coffer('export', damaged, ...KEY, '--out', target)).toBe(1);
    expect(await readFile(target, 'utf8')).toBe('earlier export');
    expect((await readdir(dir)).sort()).toEqual(['damaged.encrypted', 'out.jsonproto']);
  });
});
