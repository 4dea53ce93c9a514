// `coffer validate FILE`: reads a .binproto, .jsonproto or sealed backup and judges it with the
// format validator (spec 3.5), printing a summary or the first error with its location.
import {
  VALIDATION_PURPOSES,
  type ValidationPurpose,
  type ValidationResult,
  validateBackup,
} from '@coffer/format';
import { type Command, Option } from 'commander';
import { type BackupInput, openBackupInput } from '../backup-input.ts';

export interface KeyOptions {
  key?: string;
  aci?: string;
  fsToken?: string;
}

/** Adds --key/--aci/--fs-token (sealed files) to a command. */
export function addKeyOptions(cmd: Command, required: boolean): Command {
  const what = required ? '' : ' (only for sealed backups)';
  return cmd
    .addOption(new Option('--key <recoveryKey>', `recovery key${what}`).makeOptionMandatory(required))
    .addOption(new Option('--aci <uuid>', `account ACI${what}`).makeOptionMandatory(required))
    .addOption(new Option('--fs-token <hex>', 'forward-secrecy token for modern sealed files (from SVR-B)'));
}

export function keyOptions(o: KeyOptions): KeyOptions {
  return {
    ...(o.key === undefined ? {} : { key: o.key }),
    ...(o.aci === undefined ? {} : { aci: o.aci }),
    ...(o.fsToken === undefined ? {} : { fsToken: o.fsToken }),
  };
}

/** Validation itself; one seam so the CLI never depends on how the validator is built. */
export async function runValidation(
  input: BackupInput,
  purpose: ValidationPurpose,
): Promise<ValidationResult> {
  return validateBackup(input.plaintext(), { purpose });
}

/** @coffer/format's frame reader codes: the bytes could not be read as Backup frames. */
const FRAME_READ_CODES: ReadonlySet<string> = new Set([
  'COFFER_ERR_FRAME_TOO_LARGE',
  'COFFER_ERR_FRAME_TRUNCATED',
  'COFFER_ERR_FRAME_VARINT',
  'COFFER_ERR_FRAME_DECODE',
]);

/** `{code, message, details}` of any error, for --json and the text report. */
export function describeError(err: unknown): {
  code: string;
  message: string;
  details: Record<string, unknown>;
} {
  const e = err as { code?: unknown; message?: unknown; details?: unknown };
  return {
    code: typeof e?.code === 'string' ? e.code : 'COFFER_ERR_UNEXPECTED',
    message: typeof e?.message === 'string' ? e.message : String(err),
    details:
      typeof e?.details === 'object' && e.details !== null ? (e.details as Record<string, unknown>) : {},
  };
}

/** Human-readable report of a validation result. */
export function formatReport(
  file: string,
  input: BackupInput,
  purpose: ValidationPurpose,
  r: ValidationResult,
): string {
  const layout = input.layout === undefined ? '' : ` (${input.layout} layout)`;
  const lines: string[] = [];
  if (r.ok) {
    const s = r.summary;
    const kinds = Object.entries(s.framesByKind)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    lines.push(`${file}: valid backup for ${purpose}; ${input.kind}${layout}, ${input.size} bytes`);
    lines.push(`  frames       ${s.frames}${kinds === '' ? '' : ` (${kinds})`}`);
    lines.push(`  recipients   ${s.recipients}`);
    lines.push(`  chats        ${s.chats}`);
    lines.push(`  messages     ${s.chatItems}`);
    lines.push(`  attachments  ${s.attachments}`);
    if (s.framesWithUnknownFields > 0)
      lines.push(`  frames with unknown fields  ${s.framesWithUnknownFields}`);
  } else {
    lines.push(...formatError(file, r.error));
    // A legacy sealed file has no magic (spec 3.1) and reads as garbage right at the start.
    const d = describeError(r.error);
    if (input.kind === 'binproto' && FRAME_READ_CODES.has(d.code) && (d.details.frameIndex ?? 0) === 0) {
      lines.push('  hint: if this is an encrypted backup, pass --key RECOVERY_KEY and --aci UUID');
    }
  }
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

export function formatError(file: string, err: unknown): string[] {
  const { code, message, details } = describeError(err);
  // A broken rule or undecodable frame is a verdict on the backup; anything else (wrong key,
  // damaged file, bad arguments) means it could not be judged.
  const verdict =
    code === 'COFFER_ERR_BACKUP_INVALID' ||
    FRAME_READ_CODES.has(code) ||
    code === 'COFFER_ERR_BACKUP_NO_INFO';
  const lines = [
    `${file}: ${verdict ? 'INVALID' : 'ERROR'}: ${message}`,
    `  code ${code}${details.rule ? `, rule ${String(details.rule)}` : ''}`,
  ];
  const where: string[] = [];
  if (details.message === 'BackupInfo' || details.frameKind === 'backupInfo') where.push('BackupInfo');
  else if (typeof details.frameIndex === 'number') {
    where.push(`frame ${details.frameIndex}${details.frameKind ? ` (${String(details.frameKind)})` : ''}`);
  }
  const offset = details.byteOffset ?? details.offset;
  if (typeof offset === 'number') where.push(`byte offset ${offset}`);
  if (where.length > 0) lines.push(`  at ${where.join(', ')}`);
  return lines;
}

export function register(program: Command): void {
  addKeyOptions(
    program
      .command('validate')
      .description('Check a backup (.binproto, .jsonproto or sealed file) against the Signal backup rules')
      .argument('<file>', 'backup file')
      .addOption(
        new Option('--purpose <purpose>', 'which rules apply')
          .choices(VALIDATION_PURPOSES)
          .default('remote-backup'),
      )
      .option('--json', 'print the result as JSON'),
    false,
  ).action(async (file: string, o: KeyOptions & { purpose: ValidationPurpose; json?: boolean }) => {
    process.exitCode = 0;
    let input: BackupInput | undefined;
    let result: ValidationResult;
    try {
      input = await openBackupInput(file, keyOptions(o));
      result = await runValidation(input, o.purpose);
    } catch (err) {
      // Could not open or read the file (wrong key, damaged, not a backup): not a rule verdict.
      process.exitCode = 1;
      if (o.json) process.stdout.write(`${JSON.stringify({ ok: false, file, error: describeError(err) })}\n`);
      else process.stderr.write(`${formatError(file, err).join('\n')}\n`);
      return;
    }
    if (!result.ok) process.exitCode = 1;
    if (o.json) {
      const body = result.ok
        ? { ok: true, file, kind: input.kind, purpose: o.purpose, summary: result.summary }
        : {
            ok: false,
            file,
            kind: input.kind,
            purpose: o.purpose,
            error: describeError(result.error),
            warnings: result.warnings,
          };
      process.stdout.write(
        `${JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`,
      );
    } else {
      (result.ok ? process.stdout : process.stderr).write(formatReport(file, input, o.purpose, result));
    }
  });
}
