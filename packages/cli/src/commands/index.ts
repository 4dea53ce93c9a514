import type { Command } from 'commander';
import { register as keygen } from './keygen.ts';

/** Each command module adds itself to the program. Keep this list sorted by name. */
export const commands: ReadonlyArray<(program: Command) => void> = [keygen];
