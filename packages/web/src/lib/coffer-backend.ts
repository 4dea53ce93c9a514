import {
  ApiClient,
  type BackupStatus,
  CofferClient,
  memoryPlatform,
  type ProgressEvent as SdkProgress,
} from '@coffer/client';
import { CofferError, hasErrorCode } from '@coffer/crypto';
import { readState, writeState } from '../store/app-state.ts';
import type { ChatDb } from '../store/chat-db.ts';
import type { IndexedDbKeyStore } from '../store/key-store.ts';
import { WebChatStore } from '../store/web-chat-store.ts';
import type { AppBackend, BackupStatusView, OnProgress, ProgressEvent } from './backend.ts';

export interface BackendOptions {
  serverUrl: string;
  store: ChatDb;
  keys: IndexedDbKeyStore;
}

const DEFAULT_TIME = '03:00';

function mb(n: number | undefined): string {
  return n === undefined ? '' : `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** The SDK's progress events in the user's words. */
function describe(e: SdkProgress): ProgressEvent {
  const bytes = e.totalBytes ? { done: e.bytes ?? 0, total: e.totalBytes } : {};
  const items = e.totalItems ? { done: e.items ?? 0, total: e.totalItems } : {};
  switch (e.phase) {
    case 'export':
      return { phase: e.phase, label: `Encrypting your messages (${e.items ?? 0} so far)…` };
    case 'upload':
      return {
        phase: e.phase,
        label: `Uploading encrypted backup ${mb(e.bytes)} of ${mb(e.totalBytes)}`,
        ...bytes,
      };
    case 'media':
      return {
        phase: e.phase,
        label: `Backing up photos and files (${e.items ?? 0} of ${e.totalItems ?? '?'})`,
        ...items,
      };
    case 'download':
      return { phase: e.phase, label: `Downloading backup ${mb(e.bytes)} of ${mb(e.totalBytes)}`, ...bytes };
    case 'verify':
      return { phase: e.phase, label: 'Checking the backup with your key…', ...bytes };
    case 'import':
      return { phase: e.phase, label: `Restoring chats (${e.items ?? 0} items)…`, ...items };
    case 'media-restore':
      return {
        phase: e.phase,
        label: `Downloading photos (${e.items ?? 0} of ${e.totalItems ?? '?'})`,
        ...items,
      };
    case 'retry':
      return {
        phase: e.phase,
        label: `Connection problem; trying again in ${Math.ceil((e.delayMs ?? 0) / 1000)} s…`,
      };
    default:
      return { phase: String(e.phase), label: 'Working…' };
  }
}

/** Errors the SDK reports in general terms, said in the words of the restore screen. */
function forRestore(err: unknown): unknown {
  const check =
    'Check that you typed the key you saved when you turned on backups (16 groups of 4 letters and digits) ' +
    'and try again.';
  if (hasErrorCode(err, 'COFFER_ERR_NO_BACKUP_FOUND')) {
    return new CofferError(
      'COFFER_ERR_NO_BACKUP_FOUND',
      `No backup of your account opens with this recovery key. ${check}`,
      {
        cause: err,
      },
    );
  }
  if (hasErrorCode(err, 'COFFER_ERR_WRONG_RECOVERY_KEY')) {
    // spec 3.2: a failed MAC cannot tell a wrong key from a damaged file.
    return new CofferError(
      'COFFER_ERR_WRONG_RECOVERY_KEY',
      `This recovery key does not open your backup, or the backup is damaged. Nothing was changed on this device. ${check}`,
      { cause: err },
    );
  }
  return err;
}

/** The app's backend: the Coffer client SDK over the browser's IndexedDB stores. */
export async function createBackend(opts: BackendOptions): Promise<AppBackend> {
  const serverUrl = opts.serverUrl.replace(/\/+$/, '');
  const chatStore = new WebChatStore(opts.store);
  const client = new CofferClient({
    store: chatStore,
    keyStore: opts.keys,
    serverUrl,
    // Browsers: the sealed backup is spooled in memory (a Blob for tus), no temp files.
    platform: memoryPlatform,
  });
  // The recovery key is shown once, right after opt-in; it lives only in the key store and here.
  let pendingKey: string | undefined;

  const scheduleTime = async () => (await readState<string>('scheduleTime')) ?? DEFAULT_TIME;
  const startSchedule = async () => {
    await client.startSchedule({ timeOfDay: await scheduleTime() });
  };
  // The daily schedule runs while the app is open (a web page has no background service).
  if ((await client.status()).enabled) await startSchedule().catch(() => undefined);

  const mapStatus = async (s: BackupStatus): Promise<BackupStatusView> => {
    const media = s.enabled ? await chatStore.listMedia() : [];
    const view: BackupStatusView = {
      enabled: s.enabled,
      keyConfirmed: s.keyConfirmed,
      scheduleTime: await scheduleTime(),
      reminderDue: s.reminderDue,
    };
    if (s.lastBackup) {
      view.lastBackupAt = s.lastBackup.at;
      view.lastBackupBytes = s.lastBackup.bytes;
      view.mediaCount = s.lastBackup.mediaCount;
      view.mediaBytes = media.reduce((n, m) => n + m.size, 0);
    }
    if (s.lastVerified) view.lastVerifiedAt = s.lastVerified.at;
    if (s.schedule) view.nextBackupAt = s.schedule.nextRunAt;
    return view;
  };

  return {
    async account() {
      const s = await client.status();
      const identifier = await readState<string>('identifier');
      return { registered: s.registered, ...(identifier ? { identifier } : {}) };
    },
    async startVerification(identifier) {
      return { sessionId: await client.startVerification(identifier, serverUrl) };
    },
    async devOutboxCode(identifier) {
      return new ApiClient(serverUrl).devOutbox(identifier);
    },
    async completeVerification(sessionId, code, identifier) {
      await client.completeVerification(sessionId, code);
      await writeState('identifier', identifier);
    },
    async status() {
      return mapStatus(await client.status());
    },
    async enableBackups() {
      const { recoveryKey } = await client.enableBackups();
      pendingKey = recoveryKey;
      await startSchedule();
      return recoveryKey;
    },
    async pendingRecoveryKey() {
      const s = await client.status();
      return s.enabled && !s.keyConfirmed ? pendingKey : undefined;
    },
    async confirmRecoveryKey(input) {
      const ok = await client.confirmRecoveryKey(input);
      if (ok) pendingKey = undefined;
      return ok;
    },
    async backupNow({ onProgress, signal }) {
      await client.backupNow({ onProgress: (e) => onProgress(describe(e)), ...(signal ? { signal } : {}) });
    },
    async verifyBackup({ onProgress }) {
      await client.verifyLatestBackup({ onProgress: (e) => onProgress(describe(e)) });
    },
    async disableBackups() {
      await client.disableBackups({ deleteFromServer: true });
      pendingKey = undefined;
    },
    async setScheduleTime(hhmm) {
      await writeState('scheduleTime', hhmm);
      if ((await client.status()).enabled) await startSchedule();
    },
    async snoozeReminder() {
      await client.snoozeReminder();
    },
    async restore({ recoveryKey, onProgress }: { recoveryKey: string; onProgress: OnProgress }) {
      let result: Awaited<ReturnType<CofferClient['restore']>>;
      try {
        result = await client.restore({ recoveryKey, onProgress: (e) => onProgress(describe(e)) });
      } catch (err) {
        throw forRestore(err);
      }
      await startSchedule().catch(() => undefined);
      // Media keep arriving in the background; each file shows up in its chat as it lands.
      result.media.then(
        () => opts.store.changed('media'),
        () => undefined,
      );
      return { chats: (await opts.store.chats()).length, messages: result.chatItems };
    },
  };
}
