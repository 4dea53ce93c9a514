// `coffer export FILE --key --aci --format json --out PATH`: writes the plaintext proto3 JSON form
// (.jsonproto) for the user's own records. The output appears only when complete: it is written
// to a temporary file beside PATH and renamed; on any failure the temporary file is removed.
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type BackupInfo, backupToJsonProto, type Frame, readBackupItems } from '@coffer/format';
import { type Command, Option } from 'commander';
import { openBackupInput } from '../backup-input.ts';
import { addKeyOptions, formatError, type KeyOptions, keyOptions } from './validate.ts';

export function register(program: Command): void {
  addKeyOptions(
    program
      .command('export')
      .description('Write a backup as plaintext proto3 JSON (.jsonproto) for your own records')
      .argument('<file>', 'backup file (sealed, .binproto or .jsonproto)')
      .addOption(new Option('--format <format>', 'output format').choices(['json']).default('json'))
      .requiredOption('--out <path>', 'where to write the JSON (replaced only when the export succeeds)'),
    false,
  ).action(async (file: string, o: KeyOptions & { out: string; format: 'json' }) => {
    process.exitCode = 0;
    const tmp = join(dirname(o.out), `.${basename(o.out)}.${randomBytes(6).toString('hex')}.partial`);
    try {
      const input = await openBackupInput(file, keyOptions(o));
      const fh = await open(tmp, 'wx', 0o600);
      try {
        const items = readBackupItems(input.plaintext());
        const first = await items.next();
        // The reader always yields the BackupInfo first (or throws).
        const info = (first.value as { info: BackupInfo }).info;
        const frames = (async function* (): AsyncGenerator<Frame> {
          for await (const it of items) if (it.kind === 'frame') yield it.frame;
        })();
        const text = backupToJsonProto(info, frames, {
          // proto3 JSON cannot carry unknown fields: say so rather than drop them silently.
          onUnknownFields: (index, fields) =>
            process.stderr.write(
              `warning: ${index === null ? 'BackupInfo' : `frame ${index}`} has unknown fields not written to JSON: ${fields
                .map((f) => `${f.path || '(top)'}#${f.fieldNumber}`)
                .join(', ')}\n`,
            ),
        });
        for await (const part of text) await fh.write(part);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, o.out);
      process.stdout.write(`${file}: exported to ${o.out}\n`);
    } catch (err) {
      await rm(tmp, { force: true });
      process.exitCode = 1;
      process.stderr.write(`${formatError(file, err).join('\n')}\n`);
    }
  });
}
