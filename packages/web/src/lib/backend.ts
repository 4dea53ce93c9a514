/**
 * What the screens need from Coffer, in the app's words. `coffer-backend.ts` implements it with
 * the client SDK; the screens never touch keys, credentials or the server directly.
 */

export interface ProgressEvent {
  /** Short machine name of the step ('export', 'upload', 'media', 'download', 'verify', 'import'...). */
  phase: string;
  /** What the user sees for this step. */
  label: string;
  done?: number;
  total?: number;
}

export type OnProgress = (p: ProgressEvent) => void;

export interface AccountView {
  registered: boolean;
  /** The identifier the account was verified with (shown only on this device). */
  identifier?: string;
}

export interface BackupStatusView {
  enabled: boolean;
  /** The user re-typed the key after it was shown. */
  keyConfirmed: boolean;
  lastBackupAt?: number;
  lastBackupBytes?: number;
  mediaCount?: number;
  mediaBytes?: number;
  lastVerifiedAt?: number;
  nextBackupAt?: number;
  /** Daily schedule, local time "HH:MM". */
  scheduleTime: string;
  /** "Do you still have your recovery key?" is due (spec 8: 14 days, then about every 6 months). */
  reminderDue: boolean;
}

export interface VerificationStart {
  sessionId: string;
}

export interface AppBackend {
  account(): Promise<AccountView>;
  /** Sends a verification code to the identifier (phone number or e-mail). */
  startVerification(identifier: string): Promise<VerificationStart>;
  /** Development only: the code the server "sent", read from its dev outbox (undefined if disabled). */
  devOutboxCode(identifier: string): Promise<string | undefined>;
  /** Checks the code and registers this browser as the account's device. */
  completeVerification(sessionId: string, code: string, identifier: string): Promise<void>;

  status(): Promise<BackupStatusView>;
  /** Opt-in: makes the recovery key on this device and returns it for display. */
  enableBackups(): Promise<string>;
  /** The recovery key, while the user still has to write it down (undefined after confirmation). */
  pendingRecoveryKey(): Promise<string | undefined>;
  /** True when `input` is the recovery key (any case, spaces or dashes). */
  confirmRecoveryKey(input: string): Promise<boolean>;
  backupNow(opts: { onProgress: OnProgress; signal?: AbortSignal }): Promise<void>;
  verifyBackup(opts: { onProgress: OnProgress }): Promise<void>;
  disableBackups(): Promise<void>;
  setScheduleTime(hhmm: string): Promise<void>;
  snoozeReminder(): Promise<void>;
  /** Restores the messages (atomically), then keeps fetching media in the background. */
  restore(opts: {
    recoveryKey: string;
    onProgress: OnProgress;
  }): Promise<{ chats: number; messages: number }>;
}

/** A user-facing failure: `message` says what to do; `code` is the stable Coffer error code. */
export function errorMessage(err: unknown): { code: string; message: string } {
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'string' ? e.code : 'COFFER_ERR_UNEXPECTED';
    const message = typeof e.message === 'string' && e.message ? e.message : 'Something went wrong.';
    return { code, message };
  }
  return { code: 'COFFER_ERR_UNEXPECTED', message: String(err) };
}
