import type { Command } from 'commander';

/** Each command module adds itself to the program. Keep this list sorted by name. */
export const commands: ReadonlyArray<(program: Command) => void> = [];
