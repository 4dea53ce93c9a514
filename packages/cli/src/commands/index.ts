import type { Command } from 'commander';
import { register as admin } from './admin.ts';
import { register as backup } from './backup.ts';
import { register as demo } from './demo.ts';
import { register as exportCmd } from './export.ts';
import { register as inspect } from './inspect.ts';
import { register as keygen } from './keygen.ts';
import { register as restore } from './restore.ts';
import { register as serve } from './serve.ts';
import { register as status } from './status.ts';
import { register as validate } from './validate.ts';
import { register as verify } from './verify.ts';

/** Each command module adds itself to the program. Keep this list sorted by name. */
export const commands: ReadonlyArray<(program: Command) => void> = [
  admin,
  backup,
  demo,
  exportCmd,
  inspect,
  keygen,
  restore,
  serve,
  status,
  validate,
  verify,
];
