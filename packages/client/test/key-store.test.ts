import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileKeyStore } from '../src/node.ts';

const root = mkdtempSync(join(tmpdir(), 'coffer-keys-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('FileKeyStore', () => {
  it('keeps entries in a 0700 folder with 0600 files, and wipes them', async () => {
    const dir = join(root, 'plain');
    const ks = new FileKeyStore(dir);
    await ks.write('backup-keys', 'secret-value');
    expect(await ks.read('backup-keys')).toBe('secret-value');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of readdirSync(dir)) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    expect(await ks.read('missing')).toBeUndefined();
    await ks.wipe();
    expect(readdirSync(dir)).toEqual([]);
    expect(await ks.read('backup-keys')).toBeUndefined();
  });

  it('with a passphrase, the file holds no plaintext; a wrong or missing passphrase is refused', async () => {
    const dir = join(root, 'wrapped');
    const ks = new FileKeyStore(dir, { passphrase: 'correct horse' });
    await ks.write('backup-keys', 'the-recovery-key-0123456789');
    const raw = readFileSync(join(dir, 'backup-keys.key'), 'utf8');
    expect(raw).not.toContain('the-recovery-key');
    expect(JSON.parse(raw)).toMatchObject({ kdf: 'scrypt' });
    expect(await ks.read('backup-keys')).toBe('the-recovery-key-0123456789');
    await expect(new FileKeyStore(dir, { passphrase: 'wrong' }).read('backup-keys')).rejects.toMatchObject({
      code: 'COFFER_ERR_KEYSTORE_LOCKED',
    });
    await expect(new FileKeyStore(dir).read('backup-keys')).rejects.toMatchObject({
      code: 'COFFER_ERR_KEYSTORE_LOCKED',
    });
    // Entries are bound to their names: a file copied under another name does not open.
    writeFileSync(join(dir, 'account.key'), raw);
    await expect(ks.read('account')).rejects.toMatchObject({ code: 'COFFER_ERR_KEYSTORE_LOCKED' });
  });

  it('rejects entry names that could escape the folder', async () => {
    await expect(new FileKeyStore(join(root, 'x')).write('../evil', 'v')).rejects.toThrow(TypeError);
  });
});
