import { CofferError, toHex, xeddsaSign } from '@coffer/crypto';
import {
  type BackupInfoResponse,
  blindCredentialRequest,
  type CreateSessionResponse,
  type CredentialKeyInfo,
  type CredentialKeysResponse,
  DAY_SECONDS,
  dayStart,
  finalizeCredential,
  fromBase64Url,
  type IssueCredentialsResponse,
  type ListMediaResponse,
  type MediaUsageResponse,
  PATHS,
  type ReadAuthResponse,
  type RegisterResponse,
  type StoreMediaBatchResponse,
  signRequest,
  toBase64Url,
  type UploadForm,
  type VersionsResponse,
} from '@coffer/protocol';

export type FetchLike = typeof fetch;

/** Which key signs an anonymous request: messages (type 1) or media (type 2), spec 6.2. */
export interface BackupIdentity {
  type: 1 | 2;
  backupId: Uint8Array;
  keyPair: { privateKey: Uint8Array; publicKey: Uint8Array };
}

const QUOTA_CODES = new Set(['COFFER_ERR_QUOTA_EXCEEDED', 'COFFER_ERR_UPLOAD_TOO_LARGE']);

/**
 * Server codes that reject a stored anonymous credential itself (the server rotated its keys or lost
 * them, or the stored copy is damaged): fresh credentials from the issuance endpoint fix these.
 */
const REJECTED_CREDENTIAL_CODES = new Set([
  'COFFER_ERR_CREDENTIAL_INVALID',
  'COFFER_ERR_CREDENTIAL_EXPIRED',
  'COFFER_ERR_CREDENTIAL_MALFORMED',
]);

/** True when `err` (from `signed`) says the server no longer accepts the credential used. */
export function isRejectedCredential(err: unknown): boolean {
  const d = (err as { details?: { serverCode?: unknown } } | null)?.details;
  return typeof d?.serverCode === 'string' && REJECTED_CREDENTIAL_CODES.has(d.serverCode);
}

/**
 * A server failure behind the API (docs/errors.md): what failed, in words a user or an operator can
 * act on. All of them are temporary from the client's side (the scheduler retries them).
 */
const SERVICE_FAILURES: Record<string, { code: string; message: string }> = {
  COFFER_ERR_DATABASE_UNAVAILABLE: {
    code: 'COFFER_ERR_SERVER_UNAVAILABLE',
    message: "The server's database is unavailable; nothing was changed. Coffer will try again.",
  },
  COFFER_ERR_BLOB_STORE_UNAVAILABLE: {
    code: 'COFFER_ERR_SERVER_UNAVAILABLE',
    message: "The server's storage is unavailable; nothing was changed. Coffer will try again.",
  },
  COFFER_ERR_STORAGE_FULL: {
    code: 'COFFER_ERR_SERVER_STORAGE_FULL',
    message:
      'The server is out of storage space; your earlier backups are safe. Ask its operator to free space; Coffer will try again.',
  },
};

/** Client codes a later attempt can fix without the user doing anything (the scheduler retries). */
export function isTemporaryFailure(code: string | undefined): boolean {
  return (
    code === 'COFFER_ERR_NETWORK' ||
    code === 'COFFER_ERR_SERVER_UNAVAILABLE' ||
    code === 'COFFER_ERR_SERVER_STORAGE_FULL'
  );
}

/** The client error for a service failure the server reported with `serverCode`, if it is one. */
export function serviceFailure(
  serverCode: string,
  details: Record<string, unknown>,
  cause?: unknown,
): CofferError | undefined {
  const f = SERVICE_FAILURES[serverCode];
  return f ? new CofferError(f.code, f.message, { details, ...(cause ? { cause } : {}) }) : undefined;
}

/** Turns an HTTP error answer into a client error with a stable code. */
export async function httpError(res: Response, what: string): Promise<CofferError> {
  let code = '';
  let message = '';
  let retryAfterSeconds: number | undefined;
  try {
    const body = (await res.json()) as {
      error?: { code?: string; message?: string; retryAfterSeconds?: number };
    };
    code = body.error?.code ?? '';
    message = body.error?.message ?? '';
    retryAfterSeconds = body.error?.retryAfterSeconds;
  } catch {
    // not a Coffer error body
  }
  // A proxy or load balancer may send only the header (delta-seconds form).
  const header = Number(res.headers.get('retry-after') ?? Number.NaN);
  if (retryAfterSeconds === undefined && Number.isFinite(header) && header >= 0) retryAfterSeconds = header;
  const details = { status: res.status, serverCode: code || undefined, request: what, retryAfterSeconds };
  const service = serviceFailure(code, details);
  if (service) return service;
  if (QUOTA_CODES.has(code) || res.status === 413) {
    return new CofferError(
      'COFFER_ERR_QUOTA_FULL',
      'The backup storage on the server is full. Free space (delete old media) or move to a larger plan.',
      { details },
    );
  }
  if (code === 'COFFER_ERR_NOT_FOUND' || (res.status === 404 && !code)) {
    return new CofferError(
      'COFFER_ERR_SERVER_TOO_OLD',
      'The server does not offer this part of the Coffer API; ask its operator to update it.',
      { details },
    );
  }
  if (
    code === 'COFFER_ERR_NO_BACKUP' ||
    code === 'COFFER_ERR_BACKUP_ID_UNKNOWN' ||
    code === 'COFFER_ERR_VERSION_NOT_FOUND'
  ) {
    return new CofferError(
      'COFFER_ERR_NO_BACKUP_FOUND',
      'No backup was found for this account and recovery key. Check the key, or make a backup first.',
      { details },
    );
  }
  if (
    res.status >= 500 ||
    res.status === 429 ||
    code === 'COFFER_ERR_RATE_LIMITED' ||
    code === 'COFFER_ERR_NOT_READY'
  ) {
    return new CofferError(
      'COFFER_ERR_NETWORK',
      'The server is busy or unavailable; Coffer will try again.',
      {
        details,
      },
    );
  }
  return new CofferError('COFFER_ERR_SERVER', `The server refused ${what}: ${message || res.statusText}`, {
    details,
  });
}

export function networkError(cause: unknown, what: string): CofferError {
  return new CofferError(
    'COFFER_ERR_NETWORK',
    'The server could not be reached. Check the connection; Coffer will try again.',
    { cause, details: { request: what, connection: true } },
  );
}

/**
 * The Coffer HTTP API as the client uses it (docs/spec/api.md): identity verification, device
 * registration, blind credentials, and signed anonymous archive requests. Browser-safe (fetch).
 */
export class ApiClient {
  readonly baseUrl: string;
  readonly #fetch: FetchLike;
  readonly #now: () => number;
  /** Anonymous credentials by `${backupId}/${type}/${level}/${day}` (in memory only). */
  readonly #creds = new Map<string, Uint8Array>();
  readonly #refreshCredentials: ((id: BackupIdentity, level: number) => Promise<void>) | undefined;

  constructor(
    baseUrl: string,
    opts: {
      fetch?: FetchLike;
      now?: () => number;
      /** Fetches fresh credentials after the server rejected a stored one (see `signed`). */
      refreshCredentials?: (id: BackupIdentity, level: number) => Promise<void>;
    } = {},
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#fetch = opts.fetch ?? ((...a) => fetch(...a));
    this.#now = opts.now ?? Date.now;
    this.#refreshCredentials = opts.refreshCredentials;
  }

  async request(
    method: string,
    path: string,
    opts: { body?: string; headers?: Record<string, string>; what: string },
  ): Promise<Response> {
    let res: Response;
    try {
      res = await this.#fetch(this.baseUrl + path, {
        method,
        headers: {
          ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...opts.headers,
        },
        ...(opts.body === undefined ? {} : { body: opts.body }),
      });
    } catch (err) {
      throw networkError(err, opts.what);
    }
    if (!res.ok) throw await httpError(res, opts.what);
    return res;
  }

  /**
   * Runs `attempt` again after a rate-limit or back-pressure answer (429, or 503
   * COFFER_ERR_OVERLOADED: waits as Retry-After asks, at most 30 s, else 1 s doubling, plus up to
   * 20 % jitter so refused clients do not come back in step) or a failed connection (backoff 0.25 s
   * doubling, about 16 s in all: a restarting server comes back). Each attempt builds its request
   * anew, so signed requests get a fresh signature.
   */
  async #withRateLimitRetry<T>(attempt: () => Promise<T>, retryConnections = true): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await attempt();
      } catch (err) {
        const d = (err as CofferError).details as
          | { status?: number; retryAfterSeconds?: number; connection?: boolean; serverCode?: string }
          | undefined;
        if (retryConnections && i < 6 && d?.connection) {
          await new Promise((r) => setTimeout(r, 250 * 2 ** i));
          continue;
        }
        // 503 back-pressure only: outages (blob store, database) and a proxy's code-less 503 surface
        // as COFFER_ERR_NETWORK at once, for the scheduler's own, longer backoff.
        const busy = d?.status === 503 && d.serverCode === 'COFFER_ERR_OVERLOADED';
        if ((d?.status !== 429 && !busy) || i >= 4) throw err;
        const seconds = Math.min(30, d.retryAfterSeconds ?? 2 ** i);
        await new Promise((r) => setTimeout(r, seconds * 1000 * (1 + 0.2 * Math.random())));
      }
    }
  }

  async json<T>(
    method: string,
    path: string,
    opts: { body?: unknown; headers?: Record<string, string>; what: string },
  ): Promise<T> {
    const res = await this.#withRateLimitRetry(() =>
      this.request(method, path, {
        ...opts,
        body: opts.body === undefined ? undefined! : JSON.stringify(opts.body),
      } as { body?: string; headers?: Record<string, string>; what: string }),
    );
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  // --- identity and registration -------------------------------------------------------------

  createSession(identifier: string): Promise<CreateSessionResponse> {
    return this.json('POST', PATHS.verificationSessions, {
      body: { identifier },
      what: 'the verification request',
    });
  }

  async submitCode(sessionId: string, code: string): Promise<void> {
    await this.json('PUT', PATHS.verificationCode.replace(':sessionId', encodeURIComponent(sessionId)), {
      body: { code },
      what: 'the verification code',
    });
  }

  /** Development servers only: the codes "sent" to an identifier. */
  async devOutbox(identifier: string): Promise<string | undefined> {
    const r = await this.json<{ messages: { code: string }[] }>(
      'GET',
      `${PATHS.devOutbox}?identifier=${encodeURIComponent(identifier)}`,
      { what: 'the development outbox' },
    );
    return r.messages.at(-1)?.code;
  }

  register(sessionId: string): Promise<RegisterResponse> {
    return this.json('POST', PATHS.accounts, { body: { sessionId }, what: 'the registration' });
  }

  // --- anonymous credentials (spec 6.1) ------------------------------------------------------

  /** Fetches a week of credentials for both identities (one request, blind RSA). */
  async fetchCredentials(deviceToken: string, level: number, ids: BackupIdentity[]): Promise<void> {
    const today = dayStart(this.#now());
    // The server takes at most 16 credential requests at once: fewer days when there are more ids.
    const dayCount = Math.max(1, Math.min(7, Math.floor(16 / Math.max(1, ids.length))));
    const days = Array.from({ length: dayCount }, (_, i) => today + i * DAY_SECONDS);
    const k = await this.json<CredentialKeysResponse>(
      'GET',
      `${PATHS.credentialKeys}?start=${days[0]}&end=${days.at(-1)}`,
      { what: 'the credential keys' },
    );
    const states = [];
    const requests = [];
    for (const t of days) {
      for (const id of ids) {
        const key = k.keys.find((x) => x.redemptionTime === t && x.level === level && x.type === id.type) as
          | CredentialKeyInfo
          | undefined;
        if (!key) continue;
        const { blindedMessage, state } = await blindCredentialRequest(key, id.backupId);
        states.push(state);
        requests.push({ redemptionTime: t, type: id.type, blindedMessage: toBase64Url(blindedMessage) });
      }
    }
    const r = await this.json<IssueCredentialsResponse>('POST', PATHS.credentials, {
      body: { level, requests },
      headers: { authorization: `Bearer ${deviceToken}` },
      what: 'the credential request',
    });
    for (let i = 0; i < r.credentials.length; i++) {
      const c = r.credentials[i]!;
      const cred = await finalizeCredential(states[i]!, fromBase64Url(c.blindSignature));
      this.#creds.set(`${toHex(states[i]!.backupId)}/${c.type}/${c.level}/${c.redemptionTime}`, cred);
    }
  }

  hasCredential(id: BackupIdentity, level: number): boolean {
    return this.#creds.has(`${toHex(id.backupId)}/${id.type}/${level}/${dayStart(this.#now())}`);
  }

  clearCredentials(): void {
    this.#creds.clear();
  }

  /** Forgets every credential of one identity (backup id and type), all days and levels. */
  dropCredentials(id: BackupIdentity): void {
    const prefix = `${toHex(id.backupId)}/${id.type}/`;
    for (const k of [...this.#creds.keys()]) if (k.startsWith(prefix)) this.#creds.delete(k);
  }

  /**
   * The credentials still usable from today on, for the profile store (so the next process does not
   * spend another of the account's daily issuance requests, api.md section 3). Sensitive: callers
   * keep them in the KeyStore only and never log them.
   */
  exportCredentials(): Record<string, string> {
    const today = dayStart(this.#now());
    const out: Record<string, string> = {};
    for (const [k, v] of this.#creds) {
      if (Number(k.split('/')[3]) >= today) out[k] = toBase64Url(v);
    }
    return out;
  }

  /** Adds stored credentials (from `exportCredentials`); past days and malformed entries are skipped. */
  importCredentials(entries: Record<string, string>): void {
    const today = dayStart(this.#now());
    for (const [k, v] of Object.entries(entries)) {
      const day = Number(k.split('/')[3]);
      if (typeof v !== 'string' || !Number.isSafeInteger(day) || day < today) continue;
      try {
        this.#creds.set(k, fromBase64Url(v));
      } catch {
        // a damaged entry: fetched again when needed
      }
    }
  }

  /**
   * A signed anonymous request (spec 6.1): today's credential + XEdDSA over the canonical request.
   * If the server rejects the credential itself (it rotated or lost its keys), the credentials of
   * this identity are dropped, fresh ones are fetched once through `refreshCredentials`, and the
   * request is sent once more; a second rejection is the caller's error.
   */
  async signed<T>(
    id: BackupIdentity,
    level: number,
    method: string,
    path: string,
    what: string,
    body?: unknown,
  ): Promise<T> {
    try {
      return await this.#signedOnce<T>(id, level, method, path, what, body);
    } catch (err) {
      if (!this.#refreshCredentials || !isRejectedCredential(err)) throw err;
      this.dropCredentials(id);
      await this.#refreshCredentials(id, level);
      return this.#signedOnce<T>(id, level, method, path, what, body);
    }
  }

  async #signedOnce<T>(
    id: BackupIdentity,
    level: number,
    method: string,
    path: string,
    what: string,
    body?: unknown,
  ): Promise<T> {
    const credential = this.#creds.get(`${toHex(id.backupId)}/${id.type}/${level}/${dayStart(this.#now())}`);
    if (!credential) {
      throw new CofferError('COFFER_ERR_NOT_REGISTERED', 'No backup credential for today; sign in again.');
    }
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const res = await this.#withRateLimitRetry(async () => {
      const headers = await signRequest({
        method,
        pathAndQuery: path,
        ...(payload === undefined ? {} : { body: payload }),
        credential,
        sign: (m) => xeddsaSign(id.keyPair.privateKey, m),
        now: this.#now,
      });
      return this.request(method, path, {
        ...(payload === undefined ? {} : { body: payload }),
        headers,
        what,
      });
    });
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  // --- archive endpoints (spec 6.3) ----------------------------------------------------------

  setPublicKey(id: BackupIdentity, level: number): Promise<void> {
    return this.signed(id, level, 'PUT', PATHS.archiveKeys, 'registering the backup key', {
      backupIdPublicKey: toBase64Url(id.keyPair.publicKey),
    });
  }

  info(id: BackupIdentity, level: number): Promise<BackupInfoResponse> {
    return this.signed(id, level, 'GET', PATHS.archive, 'the backup information');
  }

  refresh(id: BackupIdentity, level: number): Promise<void> {
    return this.signed(id, level, 'POST', PATHS.archive, 'the backup refresh');
  }

  deleteAll(id: BackupIdentity, level: number): Promise<void> {
    return this.signed(id, level, 'DELETE', PATHS.archive, 'deleting the backup');
  }

  uploadForm(id: BackupIdentity, level: number, length: number): Promise<UploadForm> {
    return this.signed(
      id,
      level,
      'GET',
      `${PATHS.archiveUploadForm}?uploadLength=${length}`,
      'the upload form',
    );
  }

  versions(id: BackupIdentity, level: number): Promise<VersionsResponse> {
    return this.signed(id, level, 'GET', PATHS.archiveVersions, 'the backup versions');
  }

  readAuth(id: BackupIdentity, level: number): Promise<ReadAuthResponse> {
    return this.signed(id, level, 'GET', PATHS.archiveReadAuth, 'the download authorisation');
  }

  mediaUploadForm(id: BackupIdentity, level: number, length: number): Promise<UploadForm> {
    return this.signed(
      id,
      level,
      'GET',
      `${PATHS.mediaUploadForm}?uploadLength=${length}`,
      'the media upload form',
    );
  }

  storeMedia(
    id: BackupIdentity,
    level: number,
    body: { sourceUploadId: string; objectLength: number; mediaId: string },
  ): Promise<{ mediaId: string; objectLength: number }> {
    return this.signed(id, level, 'PUT', PATHS.media, 'storing media', body);
  }

  /**
   * Stores up to 1,000 finished media uploads in one signed request (api.md `PUT
   * /v1/archives/media/batch`). Answers one entry per item, in item order; a refused item carries
   * the status and error the single `PUT /v1/archives/media` would give.
   */
  async storeMediaBatch(
    id: BackupIdentity,
    level: number,
    items: { sourceUploadId: string; objectLength: number; mediaId: string }[],
  ): Promise<StoreMediaBatchResponse['responses']> {
    const r = await this.signed<StoreMediaBatchResponse>(
      id,
      level,
      'PUT',
      PATHS.mediaBatch,
      'storing media',
      { items },
    );
    if (!Array.isArray(r?.responses) || r.responses.length !== items.length) {
      throw new CofferError(
        'COFFER_ERR_SERVER',
        'The server answered the media batch with the wrong number of items.',
        {
          details: { request: 'storing media', items: items.length },
        },
      );
    }
    return r.responses;
  }

  /** Every stored media object (follows the cursor). */
  async listMedia(id: BackupIdentity, level: number): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    let cursor: string | undefined;
    do {
      const q = `?limit=10000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const r: ListMediaResponse = await this.signed(id, level, 'GET', PATHS.media + q, 'the media list');
      for (const m of r.storedMediaObjects) out.set(m.mediaId, m.objectLength);
      cursor = r.cursor;
    } while (cursor);
    return out;
  }

  async deleteMedia(id: BackupIdentity, level: number, mediaIds: string[]): Promise<void> {
    for (let i = 0; i < mediaIds.length; i += 1000) {
      await this.signed(id, level, 'POST', PATHS.mediaDelete, 'deleting media', {
        mediaToDelete: mediaIds.slice(i, i + 1000).map((mediaId) => ({ mediaId })),
      });
    }
  }

  mediaUsage(id: BackupIdentity, level: number): Promise<MediaUsageResponse> {
    return this.signed(id, level, 'GET', PATHS.mediaUsage, 'the media usage');
  }

  /** GET with a read token; `range` asks for bytes [start, end) (HTTP Range, inclusive end). */
  async download(
    url: string,
    headers: Record<string, string>,
    range?: { start: number; end?: number },
  ): Promise<Response> {
    const h = { ...headers };
    if (range) h.range = `bytes=${range.start}-${range.end === undefined ? '' : range.end - 1}`;
    // A busy server's 429/503 is waited out here; a broken connection is left to the caller,
    // which resumes from the bytes it has.
    return this.#withRateLimitRetry(async () => {
      let res: Response;
      try {
        res = await this.#fetch(url, { headers: h });
      } catch (err) {
        throw networkError(err, 'the download');
      }
      if (!res.ok) throw await httpError(res, 'the download');
      return res;
    }, false);
  }
}
