// `coffer keygen`: prints a fresh recovery key (spec 1). The key is the only secret a user must
// keep; it is written to stdout once and never logged.
import { formatRecoveryKey, generateRecoveryKey } from '@coffer/crypto';
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('keygen')
    .description('Generate a new recovery key (64 letters and digits, shown as 16 groups of 4)')
    .option('--json', 'print {"recoveryKey": canonical form, "display": grouped upper-case form}')
    .action((opts: { json?: boolean }) => {
      const recoveryKey = generateRecoveryKey();
      const display = formatRecoveryKey(recoveryKey);
      process.stdout.write(opts.json ? `${JSON.stringify({ recoveryKey, display })}\n` : `${display}\n`);
    });
}
