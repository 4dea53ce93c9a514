import { ERROR_CODES } from '../errors.ts';
import { type ByteSource, type ReadOptions, readBackupBatches } from '../frame-reader.ts';
import { BackupValidator, type ValidationSummary } from './backup-validator.ts';
import type { ValidationPurpose } from './purpose.ts';

export interface ValidateOptions extends ReadOptions {
  purpose: ValidationPurpose;
  maxWarnings?: number;
}

/** Outcome of validateBackup: either a summary, or the first error (a CofferError) and where. */
export type ValidationResult =
  | { ok: true; summary: ValidationSummary; warnings: string[] }
  | {
      ok: false;
      error: Error & { code?: string; details?: Readonly<Record<string, unknown>> };
      warnings: string[];
    };

/**
 * Reads a plaintext (unencrypted, un-gzipped) varint-delimited backup and validates it
 * (spec 3.4, 3.5). Rule failures and framing/decoding failures come back as `ok: false` with the
 * CofferError (COFFER_ERR_BACKUP_INVALID, or one of the frame reader's codes); any
 * other exception (for example an I/O error of the source) is thrown.
 */
export async function validateBackup(source: ByteSource, opts: ValidateOptions): Promise<ValidationResult> {
  const v = new BackupValidator(
    opts.maxWarnings === undefined
      ? { purpose: opts.purpose }
      : { purpose: opts.purpose, maxWarnings: opts.maxWarnings },
  );
  try {
    for await (const batch of readBackupBatches(source, opts)) {
      for (const it of batch) {
        if (it.kind === 'frame') v.addFrame(it.frame, it);
        else v.addInfo(it.info);
      }
    }
    const summary = v.finish();
    return { ok: true, summary, warnings: summary.warnings };
  } catch (e) {
    // this package's own codes (rules, framing, decoding) are results; anything else propagates
    const code = (e as { code?: unknown } | null)?.code;
    if (e instanceof Error && typeof code === 'string' && Object.hasOwn(ERROR_CODES, code)) {
      return { ok: false, error: e, warnings: [...v.warnings] };
    }
    throw e;
  }
}
