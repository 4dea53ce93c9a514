// @coffer/client: the Coffer SDK (browser-safe). Node-only helpers: '@coffer/client/node'.
export { ApiClient, type BackupIdentity, type FetchLike } from './api-client.ts';
export {
  APP_VERSION,
  mapOpenError,
  type OpenedBackup,
  openSealedBackup,
  sealedBackupStream,
} from './backup-stream.ts';
export type { ChatStore, ImportSession, MediaDescriptor } from './chat-store.ts';
export {
  type BackupResult,
  type BackupStatus,
  CofferClient,
  type CofferClientOptions,
  type LastBackup,
  type MediaRestoreResult,
  type RestoreResult,
} from './client.ts';
export { ERROR_CODES } from './errors.ts';
export { type KeyStore, MemoryKeyStore } from './key-store.ts';
export { type BackupKeys, deriveBackupKeys, deriveMediaBackupKeys } from './keys.ts';
export { openMediaFromBackup, sealMediaForBackup } from './media-seal.ts';
export { type ClientPlatform, memoryPlatform, type Spooled } from './platform.ts';
export type { ProgressEvent, ProgressListener } from './progress.ts';
export {
  DAY_MS,
  FIRST_REMINDER_MS,
  nextReminderAt,
  REPEAT_REMINDER_MS,
  type ReminderState,
  reminderDue,
  SNOOZE_MS,
} from './reminders.ts';
export { nextRunAt, parseTimeOfDay, type ScheduleOptions, type Timers } from './schedule.ts';
export { tusUpload } from './tus-upload.ts';
