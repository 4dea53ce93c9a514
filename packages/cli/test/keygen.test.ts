// `coffer keygen` through the real entry point (bin/coffer.js, as a user runs it).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseRecoveryKey } from '@coffer/crypto';
import { AccountEntropyPool } from '@signalapp/libsignal-client/dist/AccountKeys.js';
import { describe, expect, it } from 'vitest';

const bin = fileURLToPath(new URL('../bin/coffer.js', import.meta.url));
const run = promisify(execFile);

describe('coffer keygen', () => {
  it('prints a fresh recovery key in display form (16 upper-case groups of 4)', async () => {
    const [a, b] = await Promise.all([
      run(process.execPath, [bin, 'keygen']),
      run(process.execPath, [bin, 'keygen']),
    ]);
    for (const { stdout, stderr } of [a, b]) {
      expect(stderr).toBe('');
      expect(stdout).toMatch(/^[0-9A-Z]{4}(?: [0-9A-Z]{4}){15}\n$/);
      expect(AccountEntropyPool.isValid(parseRecoveryKey(stdout))).toBe(true);
    }
    expect(a.stdout).not.toBe(b.stdout);
  });

  it('--json prints {recoveryKey, display} for the same key', async () => {
    const { stdout } = await run(process.execPath, [bin, 'keygen', '--json']);
    const out = JSON.parse(stdout) as { recoveryKey: string; display: string };
    expect(Object.keys(out).sort()).toEqual(['display', 'recoveryKey']);
    expect(out.recoveryKey).toMatch(/^[0-9a-z]{64}$/);
    expect(AccountEntropyPool.isValid(out.recoveryKey)).toBe(true);
    expect(parseRecoveryKey(out.display)).toBe(out.recoveryKey);
  });
});
