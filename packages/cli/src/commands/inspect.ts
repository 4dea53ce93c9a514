// `coffer inspect FILE --key --aci`: opens a sealed backup (MAC checked before anything is shown)
// and prints what it holds: layout, BackupInfo, and the validator's summary.
import {
  type BackupInfo,
  BackupValidator,
  readBackupBatches,
  VALIDATION_PURPOSES,
  type ValidationPurpose,
} from '@coffer/format';
import { type Command, Option } from 'commander';
import { openBackupInput } from '../backup-input.ts';
import { addKeyOptions, describeError, formatError, type KeyOptions, keyOptions } from './validate.ts';

export function register(program: Command): void {
  addKeyOptions(
    program
      .command('inspect')
      .description('Open a sealed backup with its recovery key and print a summary of its contents')
      .argument('<file>', 'sealed backup file')
      .addOption(
        new Option('--purpose <purpose>', 'rules for the summary')
          .choices(VALIDATION_PURPOSES)
          .default('remote-backup'),
      )
      .option('--json', 'print the summary as JSON'),
    true,
  ).action(async (file: string, o: KeyOptions & { purpose: ValidationPurpose; json?: boolean }) => {
    process.exitCode = 0;
    try {
      const input = await openBackupInput(file, keyOptions(o));
      const v = new BackupValidator({ purpose: o.purpose });
      let info: BackupInfo | undefined;
      for await (const batch of readBackupBatches(input.plaintext())) {
        for (const it of batch) {
          if (it.kind === 'info') {
            info = it.info;
            v.addInfo(it.info);
          } else v.addFrame(it.frame, it);
        }
      }
      const summary = v.finish();
      const backupInfo = info && {
        version: info.version.toString(),
        backupTime: new Date(Number(info.backupTimeMs)).toISOString(),
        currentAppVersion: info.currentAppVersion,
        firstAppVersion: info.firstAppVersion,
      };
      if (o.json) {
        process.stdout.write(
          `${JSON.stringify({ ok: true, file, layout: input.layout, size: input.size, backupInfo, summary })}\n`,
        );
        return;
      }
      const kinds = Object.entries(summary.framesByKind)
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
      const out = [
        `${file}: ${input.kind} backup, ${input.layout ?? 'plain'} layout, ${input.size} bytes; MAC verified`,
        `  version      ${backupInfo?.version}`,
        `  backup time  ${backupInfo?.backupTime}`,
        `  written by   ${backupInfo?.currentAppVersion || '(not recorded)'} (first: ${backupInfo?.firstAppVersion || '(not recorded)'})`,
        `  frames       ${summary.frames}${kinds === '' ? '' : ` (${kinds})`}`,
        `  recipients   ${summary.recipients}`,
        `  chats        ${summary.chats}`,
        `  messages     ${summary.chatItems}`,
        `  attachments  ${summary.attachments}`,
        ...summary.warnings.map((w) => `warning: ${w}`),
      ];
      process.stdout.write(`${out.join('\n')}\n`);
    } catch (err) {
      process.exitCode = 1;
      if (o.json) process.stdout.write(`${JSON.stringify({ ok: false, file, error: describeError(err) })}\n`);
      else process.stderr.write(`${formatError(file, err).join('\n')}\n`);
    }
  });
}
