import type { ChatDb } from '../store/chat-db.ts';
import type { IndexedDbKeyStore } from '../store/key-store.ts';
import type { AccountView, AppBackend, BackupStatusView } from './backend.ts';

export interface BackendOptions {
  serverUrl: string;
  store: ChatDb;
  keys: IndexedDbKeyStore;
}

class NotReady extends Error {
  readonly code = 'COFFER_ERR_NOT_AVAILABLE';
}

async function api<T>(serverUrl: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(new URL(path, serverUrl), {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json: unknown = await res.json().catch(() => ({}));
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string } }).error;
    throw Object.assign(new Error(e?.message ?? `The server answered ${res.status}.`), {
      code: e?.code ?? 'COFFER_ERR_HTTP',
    });
  }
  return json as T;
}

const text = new TextEncoder();
const untext = new TextDecoder();

export async function createBackend(opts: BackendOptions): Promise<AppBackend> {
  const { serverUrl, keys } = opts;
  const status: BackupStatusView = {
    enabled: false,
    keyConfirmed: false,
    scheduleTime: '03:00',
    reminderDue: false,
  };
  return {
    async account(): Promise<AccountView> {
      const id = await keys.get('app:identifier');
      const token = await keys.get('app:deviceToken');
      return { registered: token !== undefined, ...(id ? { identifier: untext.decode(id) } : {}) };
    },
    async startVerification(identifier) {
      return api<{ sessionId: string }>(serverUrl, 'POST', '/v1/verification/sessions', { identifier });
    },
    async devOutboxCode(identifier) {
      const r = await api<{ messages: Array<{ code: string; sentAt: number }> }>(
        serverUrl,
        'GET',
        `/v1/dev/outbox?identifier=${encodeURIComponent(identifier)}`,
      );
      return r.messages.at(-1)?.code;
    },
    async completeVerification(sessionId, code, identifier) {
      await api(serverUrl, 'PUT', `/v1/verification/sessions/${encodeURIComponent(sessionId)}/code`, {
        code,
      });
      const reg = await api<{ aci: string; deviceToken: string }>(serverUrl, 'POST', '/v1/accounts', {
        sessionId,
      });
      await keys.set('app:aci', text.encode(reg.aci));
      await keys.set('app:deviceToken', text.encode(reg.deviceToken));
      await keys.set('app:identifier', text.encode(identifier));
    },
    async status() {
      return { ...status };
    },
    async enableBackups() {
      throw new NotReady('Backups are not available in this build yet.');
    },
    async pendingRecoveryKey() {
      return undefined;
    },
    async confirmRecoveryKey() {
      return false;
    },
    async backupNow() {
      throw new NotReady('Backups are not available in this build yet.');
    },
    async verifyBackup() {
      throw new NotReady('Backups are not available in this build yet.');
    },
    async disableBackups() {
      throw new NotReady('Backups are not available in this build yet.');
    },
    async setScheduleTime(hhmm) {
      status.scheduleTime = hhmm;
    },
    async snoozeReminder() {},
    async restore() {
      throw new NotReady('Restoring is not available in this build yet.');
    },
  };
}
