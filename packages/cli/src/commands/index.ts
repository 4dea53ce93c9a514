import type { Command } from 'commander';
import { register as admin } from './admin.ts';
import { register as exportCmd } from './export.ts';
import { register as inspect } from './inspect.ts';
import { register as keygen } from './keygen.ts';
import { register as serve } from './serve.ts';
import { register as validate } from './validate.ts';

/** Each command module adds itself to the program. Keep this list sorted by name. */
export const commands: ReadonlyArray<(program: Command) => void> = [admin, exportCmd, inspect, keygen, serve, validate];
