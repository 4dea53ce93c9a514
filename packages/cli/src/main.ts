import { Command } from 'commander';
import { commands } from './commands/index.ts';

/** Runs the `coffer` CLI with the given argv and resolves to the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = new Command('coffer')
    .description('Coffer: end-to-end encrypted, Signal-compatible chat backups')
    .showHelpAfterError()
    .exitOverride();
  for (const register of commands) register(program);
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    // commander signals --help/--version and usage errors by throwing when exitOverride is on.
    if (isCommanderExit(err)) return err.exitCode;
    throw err;
  }
}

function isCommanderExit(err: unknown): err is { exitCode: number } {
  return (
    typeof err === 'object' &&
    err !== null &&
    'code' in err &&
    'exitCode' in err &&
    typeof (err as { code: unknown }).code === 'string' &&
    (err as { code: string }).code.startsWith('commander.')
  );
}
