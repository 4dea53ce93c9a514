import {
  type BackupSource,
  CofferError,
  hasErrorCode,
  type MacAndAesKeys,
  openBackup,
  sealBackup,
} from '@coffer/crypto';
import {
  type BackupInfo,
  BackupValidator,
  type Frame,
  readBackupSlices,
  type ValidationPurpose,
  type ValidationSummary,
  writeBackup,
} from '@coffer/format';
import type { ChatStore, ImportSession } from './chat-store.ts';
import type { ProgressEvent } from './progress.ts';

export const APP_VERSION = 'coffer-client/0.1.0';

/** Counts frames as they stream past (progress events without buffering). */
async function* counting(
  frames: AsyncIterable<Frame>,
  onFrame: (n: number) => void,
  signal?: AbortSignal,
): AsyncGenerator<Frame> {
  let n = 0;
  for await (const f of frames) {
    if (signal?.aborted) throw cancelled();
    yield f;
    if (++n % 2048 === 0) onFrame(n);
  }
  onFrame(n);
}

/** The same for a synchronous source: stays synchronous so the writer needs no await per frame. */
function* countingSync(
  frames: Iterable<Frame>,
  onFrame: (n: number) => void,
  signal?: AbortSignal,
): Generator<Frame> {
  let n = 0;
  for (const f of frames) {
    yield f;
    if (++n % 8192 === 0) {
      if (signal?.aborted) throw cancelled();
      onFrame(n);
    }
  }
  onFrame(n);
}

export function cancelled(): CofferError {
  return new CofferError('COFFER_ERR_CANCELLED', 'The operation was cancelled; nothing was changed.');
}

/**
 * The sealed messages backup of a chat store, as a byte stream (spec 3.3): frames -> varint
 * delimited plaintext (@coffer/format) -> gzip, pad, AES-CBC, HMAC (@coffer/crypto). Memory stays
 * flat: nothing is buffered beyond one chunk.
 */
export function sealedBackupStream(
  store: ChatStore,
  messageKey: MacAndAesKeys,
  opts: {
    mediaRootKey: Uint8Array;
    now: number;
    onProgress?: (e: ProgressEvent) => void;
    signal?: AbortSignal;
  },
): AsyncIterable<Uint8Array> {
  const info: BackupInfo = {
    version: 1n,
    backupTimeMs: BigInt(opts.now),
    mediaRootBackupKey: opts.mediaRootKey,
    currentAppVersion: APP_VERSION,
    firstAppVersion: APP_VERSION,
    debugInfo: new Uint8Array(0),
  };
  const source = store.exportFrames();
  const report = (n: number) => opts.onProgress?.({ phase: 'export', items: n });
  const frames =
    Symbol.asyncIterator in source
      ? counting(source, report, opts.signal)
      : countingSync(source, report, opts.signal);
  return sealBackup(writeBackup(info, frames), messageKey);
}

export interface OpenedBackup {
  info: BackupInfo;
  summary: ValidationSummary;
}

/** Codes of the layered reader (crypto: sealed stream; format: frames, validation) meaning "damaged". */
const DAMAGED = new Set([
  'COFFER_ERR_BACKUP_CORRUPT',
  'COFFER_ERR_BACKUP_EMPTY',
  'COFFER_ERR_BACKUP_TRUNCATED',
  'COFFER_ERR_BACKUP_INVALID',
  'COFFER_ERR_BACKUP_NO_INFO',
  'COFFER_ERR_FRAME_DECODE',
  'COFFER_ERR_FRAME_TOO_LARGE',
  'COFFER_ERR_FRAME_TRUNCATED',
  'COFFER_ERR_FRAME_VARINT',
]);

/** Maps the layered reader's errors to the client's user-facing codes. */
export function mapOpenError(err: unknown): unknown {
  if (hasErrorCode(err, 'COFFER_ERR_BACKUP_KEY_MISMATCH')) {
    return new CofferError(
      'COFFER_ERR_WRONG_RECOVERY_KEY',
      'This recovery key does not open the backup (or the file is damaged). Check the key and try again; nothing was changed.',
      { cause: err },
    );
  }
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && DAMAGED.has(code)) {
    return new CofferError(
      'COFFER_ERR_BACKUP_CORRUPTED',
      'The backup is damaged or invalid, so nothing was restored. Try an older backup version or make a new backup.',
      { cause: err, details: { reason: code } },
    );
  }
  return err;
}

/**
 * Opens a sealed backup: MAC over the whole file first (crypto), then decrypt, gunzip, frames,
 * libsignal-rule validation (format), and optionally an import into a staging area of `into`.
 * The import is committed only after the last MAC check and the validator's completion checks
 * passed; on any error it is aborted and the store is left exactly as it was.
 */
export async function openSealedBackup(
  source: BackupSource,
  messageKey: MacAndAesKeys,
  opts: {
    purpose?: ValidationPurpose;
    into?: ChatStore;
    onProgress?: (e: ProgressEvent) => void;
    signal?: AbortSignal;
  } = {},
): Promise<OpenedBackup> {
  const validator = new BackupValidator({ purpose: opts.purpose ?? 'remote-backup' });
  let session: ImportSession | undefined;
  let info: BackupInfo | undefined;
  let frames = 0;
  try {
    if (opts.into) session = await opts.into.beginImport();
    // Slices decode frame by frame as they are consumed (readBackupSlices): a restore then never
    // holds a batch of fresh frames, which had V8 allocate every later frame in the old generation.
    for await (const slice of readBackupSlices(openBackup(source, messageKey))) {
      if (opts.signal?.aborted) throw cancelled();
      let items = 0;
      for (const it of slice) {
        items++;
        if (it.kind === 'info') {
          validator.addInfo(it.info);
          info = it.info;
        } else {
          validator.addFrame(it.frame, it);
          if (session) await session.addFrame(it.frame);
          frames++;
        }
      }
      if (items > 0) opts.onProgress?.({ phase: opts.into ? 'import' : 'verify', items: frames });
    }
    const summary = validator.finish();
    if (!info) throw new CofferError('COFFER_ERR_BACKUP_CORRUPTED', 'The backup has no BackupInfo.');
    if (session) await session.commit();
    session = undefined;
    return { info, summary };
  } catch (err) {
    if (session) await session.abort().catch(() => undefined);
    throw mapOpenError(err);
  }
}
