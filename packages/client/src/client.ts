import {
  type BackupSource,
  bytesToUuid,
  CofferError,
  constantTimeEqual,
  deriveMediaEncryptionKey,
  deriveMediaId,
  formatRecoveryKey,
  fromBase64,
  generateRecoveryKey,
  hasErrorCode,
  mediaName,
  parseRecoveryKey,
  randomBytes,
  thumbnailAttachmentKeys,
  thumbnailMediaName,
  toBase64,
  toBase64Url,
  toHex,
} from '@coffer/crypto';
import type { ReadAuthResponse } from '@coffer/protocol';
import {
  ApiClient,
  type BackupIdentity,
  type FetchLike,
  httpError,
  isTemporaryFailure,
} from './api-client.ts';
import { cancelled, type OpenedBackup, openSealedBackup, sealedBackupStream } from './backup-stream.ts';
import type { ChatStore, MediaDescriptor } from './chat-store.ts';
import type { KeyStore } from './key-store.ts';
import { type BackupKeys, deriveBackupKeys, deriveMediaBackupKeys } from './keys.ts';
import { openMediaFromBackup, sealMediaForBackup } from './media-seal.ts';
import { type ClientPlatform, memoryPlatform, type Spooled } from './platform.ts';
import type { ProgressEvent, ProgressListener } from './progress.ts';
import { keyChecked, nextReminderAt, type ReminderState, reminderDue, snooze } from './reminders.ts';
import {
  DEFAULT_RETRY_DELAYS_MS,
  nextRunAt,
  realTimers,
  type ScheduleOptions,
  type Timers,
} from './schedule.ts';
import { tusUpload } from './tus-upload.ts';

const ENTRY_KEYS = 'backup-keys';
const ENTRY_ACCOUNT = 'account';
const ENTRY_STATE = 'backup-state';
/**
 * Anonymous credentials fetched for the coming days (api.md section 3): kept so the next run does not
 * spend another of the account's ~20 daily issuance requests. Not a key to the backup, but sensitive
 * (they act for the backup id until they expire): key store only, never logged.
 */
const ENTRY_CREDENTIALS = 'backup-credentials';
/** Media store steps per `PUT /v1/archives/media/batch` (the server takes 1..1,000). */
const MEDIA_BATCH = 100;

interface StoredCredentials {
  serverUrl: string;
  level: number;
  credentials: Record<string, string>;
}

/** Secrets: stay in the key store, never sent, never logged. */
interface StoredKeys {
  recoveryKey: string;
  mediaRootKey: string; // base64
  aci: string;
}

interface StoredAccount {
  serverUrl: string;
  aci: string;
  deviceToken: string;
  level: number;
}

export interface LastBackup {
  at: number;
  bytes: number;
  durationMs: number;
  mediaCount: number;
  mediaUploaded: number;
  mediaBytesUploaded: number;
  mediaMissingLocally: number;
  target: 'server' | 'file';
}

interface StoredState extends ReminderState {
  enabled: boolean;
  keyConfirmedAt?: number | undefined;
  keysRegistered?: boolean | undefined;
  lastBackup?: LastBackup | undefined;
  lastVerified?: { at: number; backupAt: number; bytes: number } | undefined;
  schedule?: ScheduleOptions | undefined;
}

export interface BackupStatus {
  enabled: boolean;
  registered: boolean;
  aci: string | undefined;
  serverUrl: string | undefined;
  keyConfirmed: boolean;
  lastBackup: LastBackup | undefined;
  lastVerified: { at: number; backupAt: number; bytes: number } | undefined;
  nextReminderAt: number | undefined;
  reminderDue: boolean;
  schedule: (ScheduleOptions & { nextRunAt: number }) | undefined;
}

export interface BackupResult {
  bytes: number;
  durationMs: number;
  media: {
    total: number;
    uploaded: number;
    alreadyStored: number;
    bytesUploaded: number;
    missingLocally: number;
  };
}

export interface MediaRestoreResult {
  thumbnails: number;
  files: number;
  bytes: number;
  alreadyPresent: number;
  failed: number;
  notOnServer: number;
}

export interface RestoreResult {
  backupAt: number;
  bytes: number;
  frames: number;
  chatItems: number;
  /** Media restore running in the background (most recent first, thumbnails first). */
  media: Promise<MediaRestoreResult>;
}

export interface CofferClientOptions {
  store: ChatStore;
  keyStore: KeyStore;
  /** Server base URL (needed for everything but local file backups). */
  serverUrl?: string;
  platform?: ClientPlatform;
  fetch?: FetchLike;
  now?: () => number;
  rng?: (n: number) => Uint8Array;
  /** Parallel media transfers (default 4). */
  mediaConcurrency?: number;
  timers?: Timers;
  /** tus retry delays (tests shorten them). */
  uploadRetryDelays?: number[];
}

async function mapLimit<T>(
  items: T[],
  limit: number,
  fn: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const i = next++;
      try {
        await fn(items[i] as T, i);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure !== undefined) throw failure;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Reads a fetch body into chunks (portable: no async iteration of ReadableStream needed). */
async function* bodyChunks(res: Response): AsyncGenerator<Uint8Array> {
  if (!res.body) return;
  const reader = res.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/**
 * The Coffer client SDK: opt in, back up, schedule, restore, verify, rotate, disable. One instance
 * per device profile. Keys live in the `KeyStore` only; the server sees the backup id (through
 * anonymous credentials), the backup-id public key, signatures and ciphertext.
 */
export class CofferClient {
  readonly store: ChatStore;
  readonly #keys: KeyStore;
  readonly #platform: ClientPlatform;
  readonly #now: () => number;
  readonly #rng: (n: number) => Uint8Array;
  readonly #fetch: FetchLike | undefined;
  readonly #concurrency: number;
  readonly #timers: Timers;
  readonly #retryDelays: number[] | undefined;
  #serverUrl: string | undefined;
  #api: ApiClient | undefined;
  /** Whether the stored credentials were read into `#api` already. */
  #credentialsLoaded = false;
  #schedule: { handle: unknown; opts: ScheduleOptions } | undefined;

  constructor(opts: CofferClientOptions) {
    this.store = opts.store;
    this.#keys = opts.keyStore;
    this.#platform = opts.platform ?? memoryPlatform;
    this.#now = opts.now ?? Date.now;
    this.#rng = opts.rng ?? randomBytes;
    this.#fetch = opts.fetch;
    this.#concurrency = opts.mediaConcurrency ?? 4;
    this.#timers = opts.timers ?? realTimers;
    this.#retryDelays = opts.uploadRetryDelays;
    this.#serverUrl = opts.serverUrl;
  }

  // --- stored entries ------------------------------------------------------------------------

  async #readJson<T>(name: string): Promise<T | undefined> {
    const raw = await this.#keys.read(name);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }

  async #state(): Promise<StoredState> {
    return (await this.#readJson<StoredState>(ENTRY_STATE)) ?? { enabled: false };
  }

  async #saveState(s: StoredState): Promise<void> {
    await this.#keys.write(ENTRY_STATE, JSON.stringify(s));
  }

  async #updateState(f: (s: StoredState) => StoredState): Promise<StoredState> {
    const s = f(await this.#state());
    await this.#saveState(s);
    return s;
  }

  async #storedKeys(): Promise<StoredKeys> {
    const k = await this.#readJson<StoredKeys>(ENTRY_KEYS);
    if (!k) {
      throw new CofferError(
        'COFFER_ERR_NOT_ENABLED',
        'Backups are not turned on for this device; turn them on first.',
      );
    }
    return k;
  }

  async #account(): Promise<StoredAccount> {
    const a = await this.#readJson<StoredAccount>(ENTRY_ACCOUNT);
    if (!a) {
      throw new CofferError(
        'COFFER_ERR_NOT_REGISTERED',
        'This device is not registered with a Coffer server; verify your identity first.',
      );
    }
    return a;
  }

  #apiFor(url: string): ApiClient {
    if (!this.#api || this.#api.baseUrl !== url.replace(/\/+$/, '')) {
      const api: ApiClient = new ApiClient(url, {
        ...(this.#fetch ? { fetch: this.#fetch } : {}),
        now: this.#now,
        refreshCredentials: (id) => this.#refreshRejectedCredentials(api, id),
      });
      this.#api = api;
      this.#credentialsLoaded = false;
    }
    return this.#api;
  }

  /**
   * The server rejected a stored credential (it rotated or lost its keys): every stored credential
   * is suspect, so all are dropped (memory and key store) and one issuance request fetches fresh
   * ones for the rejected identity and this device's current ones. ApiClient retries the request
   * once afterwards; it never calls this twice for one request.
   */
  async #refreshRejectedCredentials(api: ApiClient, rejected: BackupIdentity): Promise<void> {
    const account = await this.#account();
    const ids = [rejected];
    const keys = await this.#readJson<StoredKeys>(ENTRY_KEYS);
    if (keys) {
      const { messages, media } = await this.#identities(keys);
      for (const id of [messages, media]) {
        if (!ids.some((x) => x.type === id.type && toHex(x.backupId) === toHex(id.backupId))) ids.push(id);
      }
    }
    await this.#dropCredentials();
    // At most 3 identities (the rejected one may be a rotation's old id): fetchCredentials fits
    // them into the server's 16 credential requests by asking for fewer days.
    await this.#fetchCredentials(api, account, ids.slice(0, 3));
  }

  // --- identity ------------------------------------------------------------------------------

  /** Step 1 of identity verification: the server sends a code to `identifier`. */
  async startVerification(identifier: string, serverUrl = this.#serverUrl): Promise<string> {
    if (!serverUrl) throw new CofferError('COFFER_ERR_NOT_REGISTERED', 'No server URL was given.');
    this.#serverUrl = serverUrl;
    return (await this.#apiFor(serverUrl).createSession(identifier)).sessionId;
  }

  /** Step 2: submit the code; registers this device (same ACI when the account already exists). */
  async completeVerification(
    sessionId: string,
    code: string,
  ): Promise<{ aci: string; reregistered: boolean }> {
    const url = this.#serverUrl;
    if (!url) throw new CofferError('COFFER_ERR_NOT_REGISTERED', 'Start the verification first.');
    const api = this.#apiFor(url);
    await api.submitCode(sessionId, code);
    const r = await api.register(sessionId);
    const account: StoredAccount = { serverUrl: url, aci: r.aci, deviceToken: r.deviceToken, level: r.level };
    await this.#keys.write(ENTRY_ACCOUNT, JSON.stringify(account));
    await this.#dropCredentials();
    // Backups turned on before registering used a device-made account id: from now on the backup
    // ids come from the server's ACI (a new device derives them from it), so register those keys.
    const keys = await this.#readJson<StoredKeys>(ENTRY_KEYS);
    if (keys && keys.aci !== r.aci) {
      await this.#keys.write(ENTRY_KEYS, JSON.stringify({ ...keys, aci: r.aci }));
      await this.#updateState((st) => ({ ...st, keysRegistered: false }));
    }
    return { aci: r.aci, reregistered: r.reregistered };
  }

  /** Development servers: reads the code from the dev outbox and completes the verification. */
  async registerWithDevOutbox(identifier: string, serverUrl = this.#serverUrl) {
    const sessionId = await this.startVerification(identifier, serverUrl);
    const code = await this.#apiFor(this.#serverUrl!).devOutbox(identifier);
    if (!code)
      throw new CofferError('COFFER_ERR_SERVER', 'The development outbox has no code for this identifier.');
    return this.completeVerification(sessionId, code);
  }

  // --- opt-in and keys -----------------------------------------------------------------------

  /**
   * Turns backups on: makes the recovery key and the media root key on this device and stores
   * them; registers the backup-id public key with the server when the device is registered (the
   * backup id is then committed). Nothing is uploaded. Returns the key for display (grouped).
   */
  async enableBackups(): Promise<{ recoveryKey: string; displayKey: string }> {
    const state = await this.#state();
    if (state.enabled) {
      throw new CofferError(
        'COFFER_ERR_ALREADY_ENABLED',
        'Backups are already on; rotate the key to get a new one.',
      );
    }
    const account = await this.#readJson<StoredAccount>(ENTRY_ACCOUNT);
    const recoveryKey = generateRecoveryKey(this.#rng);
    // Without a server account (local file backups only) the device makes its own account id.
    const aci = account?.aci ?? bytesToUuid(uuidV4(this.#rng));
    const keys: StoredKeys = { recoveryKey, mediaRootKey: toBase64(this.#rng(32)), aci };
    await this.#keys.write(ENTRY_KEYS, JSON.stringify(keys));
    const now = this.#now();
    await this.#saveState({ enabled: true, enabledAt: now, schedule: state.schedule });
    if (account) await this.#registerKeys(account, keys);
    return { recoveryKey, displayKey: formatRecoveryKey(recoveryKey) };
  }

  /** True when `input` (any case, spaces or dashes) is this device's recovery key. */
  async confirmRecoveryKey(input: string): Promise<boolean> {
    const keys = await this.#storedKeys();
    let typed: string;
    try {
      typed = parseRecoveryKey(input);
    } catch {
      return false;
    }
    const enc = new TextEncoder();
    const ok = constantTimeEqual(enc.encode(typed), enc.encode(keys.recoveryKey));
    if (ok) {
      const now = this.#now();
      await this.#updateState((s) =>
        s.keyConfirmedAt === undefined ? { ...s, keyConfirmedAt: now } : { ...s, ...keyChecked(s, now) },
      );
    }
    return ok;
  }

  /** Postpones a due recovery-key reminder by 7 days (once per reminder). */
  async snoozeReminder(): Promise<number | undefined> {
    const s = await this.#updateState((st) => ({ ...st, ...snooze(st, this.#now()) }));
    return nextReminderAt(s);
  }

  async #identities(keys: StoredKeys, recoveryKey = keys.recoveryKey) {
    const bk = deriveBackupKeys(recoveryKey, keys.aci);
    const mediaRootKey = fromBase64(keys.mediaRootKey);
    const mk = deriveMediaBackupKeys(mediaRootKey, keys.aci);
    const messages: BackupIdentity = { type: 1, backupId: bk.backupId, keyPair: bk.backupIdKeyPair };
    const media: BackupIdentity = { type: 2, backupId: mk.backupId, keyPair: mk.backupIdKeyPair };
    return { bk, mediaRootKey, messages, media };
  }

  async #ensureCredentials(account: StoredAccount, ids: BackupIdentity[]): Promise<ApiClient> {
    const api = this.#apiFor(account.serverUrl);
    if (!this.#credentialsLoaded) {
      this.#credentialsLoaded = true;
      const stored = await this.#readJson<StoredCredentials>(ENTRY_CREDENTIALS).catch(() => undefined);
      // Credentials of another server or level are useless here (and the entry is replaced on save).
      if (
        stored &&
        stored.serverUrl === api.baseUrl &&
        stored.level === account.level &&
        stored.credentials
      ) {
        api.importCredentials(stored.credentials);
      }
    }
    if (!ids.every((id) => api.hasCredential(id, account.level))) {
      await this.#fetchCredentials(api, account, ids);
    }
    return api;
  }

  /** Fetches credentials (one issuance request) and keeps them in the key store for later runs. */
  async #fetchCredentials(api: ApiClient, account: StoredAccount, ids: BackupIdentity[]): Promise<void> {
    await api.fetchCredentials(account.deviceToken, account.level, ids);
    this.#credentialsLoaded = true;
    const entry: StoredCredentials = {
      serverUrl: api.baseUrl,
      level: account.level,
      credentials: api.exportCredentials(),
    };
    await this.#keys.write(ENTRY_CREDENTIALS, JSON.stringify(entry));
  }

  /** Forgets the credentials in memory and in the key store (new account, rotation, disable). */
  async #dropCredentials(): Promise<void> {
    this.#api?.clearCredentials();
    this.#credentialsLoaded = true;
    await this.#keys.delete(ENTRY_CREDENTIALS);
  }

  async #registerKeys(account: StoredAccount, keys: StoredKeys, recoveryKey?: string): Promise<void> {
    const { messages, media } = await this.#identities(keys, recoveryKey);
    const api = this.#apiFor(account.serverUrl);
    api.clearCredentials();
    await this.#fetchCredentials(api, account, [messages, media]);
    await api.setPublicKey(messages, account.level);
    await api.setPublicKey(media, account.level);
    await this.#updateState((s) => ({ ...s, keysRegistered: true }));
  }

  // --- backup --------------------------------------------------------------------------------

  /** The sealed messages backup as a stream (local backups write it to a file). */
  async sealedBackup(opts: { onProgress?: ProgressListener; signal?: AbortSignal } = {}) {
    const keys = await this.#storedKeys();
    const { bk, mediaRootKey } = await this.#identities(keys);
    return sealedBackupStream(this.store, bk.messageKey, {
      mediaRootKey,
      now: this.#now(),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  /** Records a backup written elsewhere (a local file). */
  async recordLocalBackup(bytes: number, durationMs: number): Promise<void> {
    const at = this.#now();
    await this.#updateState((s) => ({
      ...s,
      lastBackup: {
        at,
        bytes,
        durationMs,
        mediaCount: 0,
        mediaUploaded: 0,
        mediaBytesUploaded: 0,
        mediaMissingLocally: 0,
        target: 'file',
      },
    }));
  }

  /**
   * Backs up now: export -> frames -> seal (spooled so the upload can resume) -> tus upload; the
   * server makes it current only when complete. Then media not yet in the media tier (compared by
   * media id), with a concurrency limit.
   */
  async backupNow(opts: { onProgress?: ProgressListener; signal?: AbortSignal } = {}): Promise<BackupResult> {
    const started = this.#now();
    const t0 = Date.now();
    const keys = await this.#storedKeys();
    const account = await this.#account();
    const state = await this.#state();
    if (!state.keysRegistered) await this.#registerKeys(account, keys);
    const { bk, mediaRootKey, messages, media } = await this.#identities(keys);
    const api = await this.#ensureCredentials(account, [messages, media]);
    const progress = opts.onProgress ?? (() => {});

    const spooled = await this.#platform.spool(
      sealedBackupStream(this.store, bk.messageKey, {
        mediaRootKey,
        now: started,
        onProgress: progress,
        ...(opts.signal ? { signal: opts.signal } : {}),
      }),
    );
    try {
      if (opts.signal?.aborted) throw cancelled();
      await this.#uploadMessages(api, account, messages, spooled, progress, opts.signal);
    } finally {
      await spooled.dispose();
    }
    const m = await this.#uploadMedia(api, account, media, mediaRootKey, progress, opts.signal);
    const durationMs = Date.now() - t0;
    await this.#updateState((s) => ({
      ...s,
      lastBackup: {
        at: started,
        bytes: spooled.size,
        durationMs,
        mediaCount: m.total,
        mediaUploaded: m.uploaded,
        mediaBytesUploaded: m.bytesUploaded,
        mediaMissingLocally: m.missingLocally,
        target: 'server',
      },
    }));
    return { bytes: spooled.size, durationMs, media: m };
  }

  async #uploadMessages(
    api: ApiClient,
    account: StoredAccount,
    id: BackupIdentity,
    spooled: Spooled,
    progress: (e: ProgressEvent) => void,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const form = await api.uploadForm(id, account.level, spooled.size);
    progress({ phase: 'upload', bytes: 0, totalBytes: spooled.size });
    await tusUpload(form, spooled.tusInput(), spooled.size, {
      onProgress: (sent, total) => progress({ phase: 'upload', bytes: sent, totalBytes: total }),
      ...(signal ? { signal } : {}),
      ...(this.#retryDelays ? { retryDelays: this.#retryDelays } : {}),
    });
  }

  /** The media the history refers to, with their backup-tier ids (spec 5.2). */
  async #mediaPlan(mediaRootKey: Uint8Array) {
    const list = await this.store.listMedia();
    return list.map((d) => {
      const name = mediaName(d.plaintextHash, d.key);
      const mediaId = deriveMediaId(mediaRootKey, name);
      const thumbId = deriveMediaId(mediaRootKey, thumbnailMediaName(name));
      return { d, mediaId, mediaIdB64: toBase64Url(mediaId), thumbId, thumbIdB64: toBase64Url(thumbId) };
    });
  }

  async #uploadMedia(
    api: ApiClient,
    account: StoredAccount,
    id: BackupIdentity,
    mediaRootKey: Uint8Array,
    progress: (e: ProgressEvent) => void,
    signal: AbortSignal | undefined,
  ) {
    const plan = await this.#mediaPlan(mediaRootKey);
    const stored = await api.listMedia(id, account.level);
    type Job = { kind: 'file' | 'thumb'; p: (typeof plan)[number] };
    const jobs: Job[] = [];
    for (const p of plan) {
      if (!stored.has(p.mediaIdB64)) jobs.push({ kind: 'file', p });
      if (!stored.has(p.thumbIdB64) && (await this.store.hasMedia(p.d.plaintextHash, true)))
        jobs.push({ kind: 'thumb', p });
    }
    let uploaded = 0;
    let bytesUploaded = 0;
    let missingLocally = 0;
    const total = jobs.length;
    progress({ phase: 'media', items: 0, totalItems: total, bytes: 0 });
    // Finished uploads wait here for the store step, done MEDIA_BATCH at a time with
    // PUT /v1/archives/media/batch (one signature, one server transaction), one batch at a time.
    type Item = { sourceUploadId: string; objectLength: number; mediaId: string };
    let pending: Item[] = [];
    let storing: Promise<void> = Promise.resolve();
    const store = async (items: Item[]): Promise<void> => {
      for (let i = 0; i < items.length; i += 1000) {
        const chunk = items.slice(i, i + 1000);
        const answers = await this.#storeMediaItems(api, account, id, chunk);
        let failed: CofferError | undefined;
        for (let j = 0; j < chunk.length; j++) {
          const a = answers[j]!;
          if (a.status === 200) {
            uploaded++;
            bytesUploaded += chunk[j]!.objectLength;
          } else {
            // The same codes as the single store step: quota -> QUOTA_FULL, SOURCE_GONE -> SERVER, ...
            failed ??= await httpError(
              new Response(JSON.stringify({ error: a.error ?? {} }), { status: a.status }),
              'storing media',
            );
          }
        }
        progress({ phase: 'media', items: uploaded, totalItems: total, bytes: bytesUploaded });
        if (failed) throw failed;
      }
    };
    const flush = (): Promise<void> => {
      const items = pending;
      pending = [];
      storing = storing.then(() => store(items));
      // Awaited by the caller; this only keeps a failure seen elsewhere from being "unhandled".
      storing.catch(() => undefined);
      return storing;
    };
    await mapLimit(jobs, this.#concurrency, async ({ kind, p }) => {
      if (signal?.aborted) throw cancelled();
      const thumb = kind === 'thumb';
      const plain = await this.store.readMedia(p.d.plaintextHash, thumb);
      if (!plain) {
        missingLocally++;
        return;
      }
      const mid = thumb ? p.thumbId : p.mediaId;
      // spec 5.3 step 5: thumbnails use keys derived from their own media id (not padded: see README).
      const attachmentKeys = thumb ? thumbnailAttachmentKeys(mediaRootKey, mid) : p.d.key;
      const object = await sealMediaForBackup(
        plain,
        attachmentKeys,
        deriveMediaEncryptionKey(mediaRootKey, mid),
        {
          pad: !thumb,
          rng: this.#rng,
        },
      );
      const form = await api.mediaUploadForm(id, account.level, object.length);
      await tusUpload(form, this.#platform.tusInputFromBytes(object), object.length, {
        ...(signal ? { signal } : {}),
        ...(this.#retryDelays ? { retryDelays: this.#retryDelays } : {}),
      });
      pending.push({ sourceUploadId: form.uploadId, objectLength: object.length, mediaId: toBase64Url(mid) });
      if (pending.length >= MEDIA_BATCH) await flush();
    });
    await flush();
    return {
      total: plan.length,
      uploaded,
      alreadyStored: plan.length * 2 - jobs.length,
      bytesUploaded,
      missingLocally,
    };
  }

  /** The batch store step; a server without the batch endpoint (404) gets one PUT per item. */
  async #storeMediaItems(
    api: ApiClient,
    account: StoredAccount,
    id: BackupIdentity,
    items: { sourceUploadId: string; objectLength: number; mediaId: string }[],
  ): Promise<{ status: number; error?: { code: string; message: string } }[]> {
    if (items.length === 0) return [];
    try {
      return await api.storeMediaBatch(id, account.level, items);
    } catch (err) {
      const d = (err as CofferError).details as { status?: number } | undefined;
      if (!hasErrorCode(err, 'COFFER_ERR_SERVER_TOO_OLD') || d?.status !== 404) throw err;
    }
    const out: { status: number }[] = [];
    for (const item of items) {
      await api.storeMedia(id, account.level, item);
      out.push({ status: 200 });
    }
    return out;
  }

  // --- download / restore / verify -----------------------------------------------------------

  /** Downloads the current backup into a spool, resuming with HTTP ranges after a dropped connection. */
  async #download(
    api: ApiClient,
    auth: ReadAuthResponse,
    progress: (e: ProgressEvent) => void,
    signal: AbortSignal | undefined,
  ): Promise<Spooled> {
    let got = 0;
    let total: number | undefined;
    async function* stream(): AsyncGenerator<Uint8Array> {
      let failures = 0;
      while (total === undefined || got < total) {
        if (signal?.aborted) throw cancelled();
        try {
          const res = await api.download(auth.backupUrl, auth.headers, got > 0 ? { start: got } : undefined);
          if (total === undefined) total = Number(res.headers.get('content-length') ?? Number.NaN);
          if (got > 0 && res.status !== 206)
            throw new CofferError('COFFER_ERR_SERVER', 'The server ignored the range.');
          for await (const c of bodyChunks(res)) {
            got += c.length;
            yield c;
            progress({ phase: 'download', bytes: got, totalBytes: total });
          }
          if (!Number.isFinite(total)) total = got;
          if (got < total) throw new CofferError('COFFER_ERR_NETWORK', 'The download was cut short.');
        } catch (err) {
          // A dropped connection shows up as a network error or as a TypeError while reading the body.
          const retryable =
            hasErrorCode(err, 'COFFER_ERR_NETWORK') ||
            hasErrorCode(err, 'COFFER_ERR_SERVER_UNAVAILABLE') ||
            err instanceof TypeError;
          if (!retryable) throw err;
          if (++failures > 5) {
            throw new CofferError(
              'COFFER_ERR_NETWORK',
              'The download keeps failing; Coffer will try again later.',
              {
                cause: err,
              },
            );
          }
          progress({ phase: 'retry', code: 'COFFER_ERR_NETWORK', delayMs: 200 * 2 ** failures });
          await sleep(200 * 2 ** failures);
        }
      }
    }
    return this.#platform.spool(stream());
  }

  async #openRemote(
    recoveryKey: string,
    opts: { into?: ChatStore; onProgress?: ProgressListener; signal?: AbortSignal },
  ): Promise<{ opened: OpenedBackup; bytes: number; keys: BackupKeys; aci: string }> {
    const account = await this.#account();
    const bk = deriveBackupKeys(recoveryKey, account.aci);
    const id: BackupIdentity = { type: 1, backupId: bk.backupId, keyPair: bk.backupIdKeyPair };
    const api = await this.#ensureCredentials(account, [id]);
    const info = await api.info(id, account.level).catch((err: unknown) => {
      // The backup id comes from the key: an id the server never saw means a wrong key (or no backup ever).
      const serverCode = (err as CofferError).details?.serverCode;
      if (hasErrorCode(err, 'COFFER_ERR_NO_BACKUP_FOUND') && serverCode === 'COFFER_ERR_BACKUP_ID_UNKNOWN') {
        throw new CofferError(
          'COFFER_ERR_WRONG_RECOVERY_KEY',
          'This recovery key does not match any backup of this account. Check the key and try again; nothing was changed.',
          { cause: err },
        );
      }
      throw err;
    });
    if (!info.current) {
      throw new CofferError(
        'COFFER_ERR_NO_BACKUP_FOUND',
        'There is no backup on the server for this key yet.',
      );
    }
    const auth = await api.readAuth(id, account.level);
    const progress = opts.onProgress ?? (() => {});
    const spooled = await this.#download(api, auth, progress, opts.signal);
    try {
      const opened = await openSealedBackup(spooled.source, bk.messageKey, {
        ...(opts.into ? { into: opts.into } : {}),
        onProgress: progress,
        ...(opts.signal ? { signal: opts.signal } : {}),
      }).catch((err: unknown) => {
        // The server found this key's backup id and checked our signature with its public key, so
        // the key is right: a MAC that does not match means the stored file is damaged.
        if (!hasErrorCode(err, 'COFFER_ERR_WRONG_RECOVERY_KEY')) throw err;
        throw new CofferError(
          'COFFER_ERR_BACKUP_CORRUPTED',
          'The backup on the server is damaged: the recovery key is right, but the file does not match its authentication code. Nothing was changed; make a new backup from a device that has the chats.',
          { cause: err, details: { reason: 'COFFER_ERR_BACKUP_KEY_MISMATCH' } },
        );
      });
      return { opened, bytes: spooled.size, keys: bk, aci: account.aci };
    } finally {
      await spooled.dispose();
    }
  }

  /**
   * Restores on a new device (after identity verification): downloads the latest backup, checks
   * its MAC, validates and imports it atomically (nothing visible until all checks passed), keeps
   * the key so backups continue, then restores media in the background.
   */
  async restore(opts: {
    recoveryKey: string;
    onProgress?: ProgressListener;
    signal?: AbortSignal;
  }): Promise<RestoreResult> {
    const recoveryKey = parseRecoveryKey(opts.recoveryKey);
    const { opened, bytes } = await this.#openRemote(recoveryKey, {
      into: this.store,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const account = await this.#account();
    await this.#adoptRestoredKeys(recoveryKey, account.aci, opened);
    const media = this.restoreMedia({ ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
    media.catch(() => undefined); // reported through the promise; never an unhandled rejection
    return {
      backupAt: Number(opened.info.backupTimeMs),
      bytes,
      frames: opened.summary.frames,
      chatItems: opened.summary.chatItems,
      media,
    };
  }

  async #adoptRestoredKeys(recoveryKey: string, aci: string, opened: OpenedBackup): Promise<void> {
    const keys: StoredKeys = { recoveryKey, aci, mediaRootKey: toBase64(opened.info.mediaRootBackupKey) };
    await this.#keys.write(ENTRY_KEYS, JSON.stringify(keys));
    const now = this.#now();
    // The user just typed the key: that counts as a check (spec 8 reminders start again).
    await this.#updateState((s) => ({
      ...s,
      enabled: true,
      enabledAt: now,
      keyConfirmedAt: now,
      keysRegistered: true,
      lastVerified: { at: now, backupAt: Number(opened.info.backupTimeMs), bytes: 0 },
    }));
  }

  /** Restores a local backup file (no server). `aci` is the account id the backup was made for. */
  async restoreFromSource(
    source: BackupSource,
    opts: { recoveryKey: string; aci?: string; onProgress?: ProgressListener; signal?: AbortSignal },
  ): Promise<OpenedBackup> {
    const recoveryKey = parseRecoveryKey(opts.recoveryKey);
    const existing = await this.#readJson<StoredAccount>(ENTRY_ACCOUNT);
    const aci = opts.aci ?? existing?.aci;
    if (!aci) {
      throw new CofferError(
        'COFFER_ERR_NOT_REGISTERED',
        'Give the account id (ACI) the backup was made for.',
      );
    }
    const bk = deriveBackupKeys(recoveryKey, aci);
    const opened = await openSealedBackup(source, bk.messageKey, {
      into: this.store,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    await this.#adoptRestoredKeys(recoveryKey, aci, opened);
    return opened;
  }

  /** Checks a local backup file completely without importing it. */
  async verifySource(
    source: BackupSource,
    opts: { recoveryKey?: string; aci?: string } = {},
  ): Promise<OpenedBackup> {
    const stored = await this.#readJson<StoredKeys>(ENTRY_KEYS);
    const recoveryKey = opts.recoveryKey ? parseRecoveryKey(opts.recoveryKey) : stored?.recoveryKey;
    const aci = opts.aci ?? stored?.aci;
    if (!recoveryKey || !aci)
      throw new CofferError('COFFER_ERR_NOT_ENABLED', 'Backups are not turned on for this device.');
    return openSealedBackup(source, deriveBackupKeys(recoveryKey, aci).messageKey);
  }

  /**
   * Restore drill: downloads the latest backup and checks it completely (MAC, decryption, gzip,
   * frames, validation) without importing; records "last verified restorable".
   */
  async verifyLatestBackup(opts: { onProgress?: ProgressListener; signal?: AbortSignal } = {}) {
    const keys = await this.#storedKeys();
    const { opened, bytes } = await this.#openRemote(keys.recoveryKey, opts);
    const at = this.#now();
    const backupAt = Number(opened.info.backupTimeMs);
    // The backup's time is inside the MAC-protected plaintext and comes from this device's clock
    // (backupNow records the same value), so an honest server serves at least the last one we made.
    const { lastBackup } = await this.#state();
    if (lastBackup?.target === 'server' && backupAt < lastBackup.at) {
      throw new CofferError(
        'COFFER_ERR_BACKUP_ROLLED_BACK',
        `The server serves an older backup (made ${new Date(backupAt).toISOString()}) than the last one this device uploaded (${new Date(lastBackup.at).toISOString()}). Back up now to replace it; if this happens again, the server is not keeping your backups.`,
        { details: { servedBackupAt: backupAt, lastBackupAt: lastBackup.at } },
      );
    }
    const lastVerified = { at, backupAt, bytes };
    await this.#updateState((s) => ({ ...s, lastVerified }));
    return { ...lastVerified, chatItems: opened.summary.chatItems, frames: opened.summary.frames };
  }

  /**
   * Downloads media the history refers to and that is not on the device: most recent first,
   * all thumbnails before full files. Failures are counted, not thrown (retry later).
   */
  async restoreMedia(opts: { onProgress?: ProgressListener } = {}): Promise<MediaRestoreResult> {
    const keys = await this.#storedKeys();
    const account = await this.#account();
    const { mediaRootKey, media } = await this.#identities(keys);
    const api = await this.#ensureCredentials(account, [media]);
    const plan = await this.#mediaPlan(mediaRootKey); // already most recent first
    const stored = await api.listMedia(media, account.level);
    const auth = await api.readAuth(media, account.level);
    const r: MediaRestoreResult = {
      thumbnails: 0,
      files: 0,
      bytes: 0,
      alreadyPresent: 0,
      failed: 0,
      notOnServer: 0,
    };
    const progress = opts.onProgress ?? (() => {});
    const total = plan.length * 2;
    let done = 0;
    for (const thumb of [true, false]) {
      await mapLimit(plan, this.#concurrency, async (p) => {
        done++;
        const mid = thumb ? p.thumbIdB64 : p.mediaIdB64;
        if (await this.store.hasMedia(p.d.plaintextHash, thumb)) {
          if (!thumb) r.alreadyPresent++;
          return;
        }
        if (!stored.has(mid)) {
          if (!thumb) r.notOnServer++;
          return;
        }
        try {
          const res = await api.download(auth.mediaUrlPrefix + mid, auth.headers);
          const object = new Uint8Array(await res.arrayBuffer());
          const rawId = thumb ? p.thumbId : p.mediaId;
          const plain = await openMediaFromBackup(
            object,
            thumb ? thumbnailAttachmentKeys(mediaRootKey, rawId) : p.d.key,
            deriveMediaEncryptionKey(mediaRootKey, rawId),
            thumb ? {} : { size: p.d.size, plaintextHash: p.d.plaintextHash },
          );
          await this.store.writeMedia(p.d.plaintextHash, plain, thumb);
          if (thumb) r.thumbnails++;
          else r.files++;
          r.bytes += object.length;
        } catch {
          r.failed++;
        }
        progress({ phase: 'media-restore', items: done, totalItems: total, bytes: r.bytes });
      });
    }
    return r;
  }

  // --- rotation, disable, status -------------------------------------------------------------

  /**
   * New recovery key: a new backup id is registered and a full backup is uploaded under it; only
   * then does the device switch keys and delete the old backup (the old one stays until the new
   * one is committed). Media keep their keys (the media root key is unchanged).
   */
  async rotateRecoveryKey(
    opts: { onProgress?: ProgressListener } = {},
  ): Promise<{ recoveryKey: string; displayKey: string }> {
    const keys = await this.#storedKeys();
    const account = await this.#account();
    const oldIds = await this.#identities(keys);
    const recoveryKey = generateRecoveryKey(this.#rng);
    const fresh: StoredKeys = { ...keys, recoveryKey };
    const newIds = await this.#identities(fresh);
    const api = this.#apiFor(account.serverUrl);
    // One credential per day and type per request: the old id's credential comes separately.
    await this.#ensureCredentials(account, [oldIds.messages]);
    await api.fetchCredentials(account.deviceToken, account.level, [newIds.messages, newIds.media]);
    await api.setPublicKey(newIds.messages, account.level);
    const spooled = await this.#platform.spool(
      sealedBackupStream(this.store, newIds.bk.messageKey, {
        mediaRootKey: newIds.mediaRootKey,
        now: this.#now(),
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      }),
    );
    try {
      await this.#uploadMessages(
        api,
        account,
        newIds.messages,
        spooled,
        opts.onProgress ?? (() => {}),
        undefined,
      );
    } finally {
      await spooled.dispose();
    }
    await this.#keys.write(ENTRY_KEYS, JSON.stringify(fresh));
    const now = this.#now();
    await this.#updateState((s) => ({
      ...s,
      enabledAt: now,
      keyConfirmedAt: undefined,
      lastKeyCheckAt: undefined,
      remindersCompleted: 0,
      snoozedUntil: undefined,
    }));
    // The new backup is committed: the old one can go.
    await api.deleteAll(oldIds.messages, account.level).catch(() => undefined);
    // The stored credentials include the old backup id's: drop them all (the next run fetches anew).
    await this.#dropCredentials();
    return { recoveryKey, displayKey: formatRecoveryKey(recoveryKey) };
  }

  /** Turns backups off; wipes the keys from this device, and optionally the server copy. */
  async disableBackups(opts: { deleteFromServer?: boolean } = {}): Promise<void> {
    this.stopSchedule();
    const keys = await this.#readJson<StoredKeys>(ENTRY_KEYS);
    if (opts.deleteFromServer && keys) {
      const account = await this.#account();
      const { messages, media } = await this.#identities(keys);
      const api = this.#apiFor(account.serverUrl);
      api.clearCredentials();
      await api.fetchCredentials(account.deviceToken, account.level, [messages, media]);
      await api.deleteAll(messages, account.level).catch((err) => {
        if (!hasErrorCode(err, 'COFFER_ERR_NO_BACKUP_FOUND')) throw err;
      });
      await api.deleteAll(media, account.level).catch((err) => {
        if (!hasErrorCode(err, 'COFFER_ERR_NO_BACKUP_FOUND')) throw err;
      });
    }
    await this.#keys.delete(ENTRY_KEYS);
    await this.#saveState({ enabled: false });
    await this.#dropCredentials();
  }

  async status(): Promise<BackupStatus> {
    const s = await this.#state();
    const account = await this.#readJson<StoredAccount>(ENTRY_ACCOUNT);
    const keys = await this.#readJson<StoredKeys>(ENTRY_KEYS);
    const now = this.#now();
    return {
      enabled: s.enabled,
      registered: account !== undefined,
      aci: account?.aci ?? keys?.aci,
      serverUrl: account?.serverUrl,
      keyConfirmed: s.keyConfirmedAt !== undefined,
      lastBackup: s.lastBackup,
      lastVerified: s.lastVerified,
      nextReminderAt: s.enabled ? nextReminderAt(s) : undefined,
      reminderDue: s.enabled && reminderDue(s, now),
      schedule: s.schedule ? { ...s.schedule, nextRunAt: nextRunAt(now, s.schedule) } : undefined,
    };
  }

  /** Server-side sizes (messages backup and media usage). */
  async serverUsage() {
    const keys = await this.#storedKeys();
    const account = await this.#account();
    const { messages, media } = await this.#identities(keys);
    const api = await this.#ensureCredentials(account, [messages, media]);
    const info = await api.info(messages, account.level);
    const usage = await api.mediaUsage(media, account.level);
    return { backupBytes: info.current?.size ?? 0, backupAt: info.current?.createdAt, media: usage };
  }

  // --- daily schedule ------------------------------------------------------------------------

  /**
   * One scheduled run: a fresh backup only refreshes the server copy (spec 6.5: so it is kept);
   * otherwise backs up, retrying retryable failures (network, server busy) with backoff.
   */
  async runScheduledBackup(opts: ScheduleOptions & { onProgress?: ProgressListener } = {}) {
    const s = await this.#state();
    if (!s.enabled) return { ran: false as const, reason: 'disabled' };
    const fresh = opts.freshForMs ?? 20 * 3_600_000;
    if (s.lastBackup && this.#now() - s.lastBackup.at < fresh && s.lastBackup.target === 'server') {
      const keys = await this.#storedKeys();
      const account = await this.#account();
      const { messages, media } = await this.#identities(keys);
      const api = await this.#ensureCredentials(account, [messages, media]);
      await api.refresh(messages, account.level);
      await api.refresh(media, account.level);
      return { ran: false as const, reason: 'fresh' };
    }
    const delays = opts.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await this.backupNow(opts.onProgress ? { onProgress: opts.onProgress } : {});
        return { ran: true as const, result, attempts: attempt + 1 };
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === undefined || !isTemporaryFailure(code) || attempt >= delays.length) throw err;
        const delayMs = delays[attempt]!;
        opts.onProgress?.({ phase: 'retry', code, delayMs });
        await new Promise<void>((r) => this.#timers.setTimeout(r, delayMs));
      }
    }
  }

  /** Starts the daily schedule (persisted); `onResult` hears every run's outcome. */
  async startSchedule(opts: ScheduleOptions & { onResult?: (r: unknown) => void } = {}): Promise<number> {
    const { onResult, ...schedule } = opts;
    await this.#updateState((s) => ({ ...s, schedule }));
    this.stopSchedule();
    const arm = () => {
      const at = nextRunAt(this.#now(), schedule);
      const handle = this.#timers.setTimeout(
        () => {
          this.runScheduledBackup(schedule)
            .then(
              (r) => onResult?.(r),
              (err) => onResult?.({ error: err }),
            )
            .finally(arm);
        },
        Math.max(0, at - this.#now()),
      );
      this.#schedule = { handle, opts: schedule };
      return at;
    };
    return arm();
  }

  stopSchedule(): void {
    if (this.#schedule) this.#timers.clearTimeout(this.#schedule.handle);
    this.#schedule = undefined;
  }
}

function uuidV4(rng: (n: number) => Uint8Array): Uint8Array {
  const b = rng(16).slice();
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return b;
}

export type { MediaDescriptor };
