/**
 * Builds the Coffer server: stores, services and the Fastify app with every route (docs/spec/api.md).
 * `createCofferServer()` opens everything; `listen()` starts the socket; `close()` shuts down
 * gracefully (stop accepting, finish in-flight requests, stop jobs, close stores, release the lock).
 */
import fs from 'node:fs';
import { CofferError } from '@coffer/crypto';
import {
  AccountResponse,
  BACKUP_LEVEL,
  BackupInfoResponse,
  CREDENTIAL_TYPE,
  CreateSessionRequest,
  CreateSessionResponse,
  CredentialKeysQuery,
  CredentialKeysResponse,
  DAY_SECONDS,
  DeleteMediaRequest,
  DevOutboxQuery,
  DevOutboxResponse,
  dayStart,
  ErrorResponse,
  fromBase64Url,
  HealthResponse,
  IssueCredentialsRequest,
  IssueCredentialsResponse,
  ListMediaQuery,
  ListMediaResponse,
  MediaUsageResponse,
  PATHS,
  ReadAuthResponse,
  RegisterRequest,
  RegisterResponse,
  SessionParams,
  SetPublicKeyRequest,
  StoreMediaBatchRequest,
  StoreMediaBatchResponse,
  StoreMediaRequest,
  StoreMediaResponse,
  SubmitCodeRequest,
  SubmitCodeResponse,
  toBase64Url,
  UploadForm,
  UploadLengthQuery,
  VersionParams,
  VersionsResponse,
} from '@coffer/protocol';
import type { Static } from '@sinclair/typebox';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
} from 'fastify';
import {
  type AnonAuth,
  type AnonRequirement,
  authenticateAnonymous,
  levelConfig,
} from './archives/anon-auth.ts';
import * as archives from './archives/service.ts';
import type { ServerConfig } from './config.ts';
import { redactedConfig } from './config.ts';
import type { ServerContext } from './context.ts';
import { BlindRsaScheme } from './credentials/blind-rsa-scheme.ts';
import { checkRange, issueCredentials } from './credentials/issuance.ts';
import { createDb, type Db } from './db/create-db.ts';
import { installBackPressure } from './http/back-pressure.ts';
import { errorBody, installErrorHandling } from './http/errors.ts';
import { refuseNonFiniteNumbers } from './http/finite-numbers.ts';
import { createMetrics, installMetrics } from './http/metrics.ts';
import { serveRange } from './http/ranges.ts';
import { installRequestRateLimit } from './http/rate-limit.ts';
import { serveWebApp } from './http/web-app.ts';
import { type AuthenticatedDevice, authenticateDevice, registerAccount } from './identity/accounts.ts';
import { type CodeSender, createSender, DevSender } from './identity/senders.ts';
import { createSession, normalizeIdentifier, submitCode } from './identity/verification.ts';
import { runRetention } from './jobs/retention.ts';
import { type DataDirLock, lockDataDir } from './lock-file.ts';
import type { openBlobStore } from './storage/blob-store.ts';
import { createBlobStore } from './storage/blob-store-factory.ts';
import { createTus } from './uploads/tus.ts';
import { randomId } from './util/crypto.ts';
import { bearer, signToken, verifyToken } from './util/tokens.ts';

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer;
    device?: AuthenticatedDevice;
    anon?: AnonAuth;
  }
}

export interface CofferServerOptions {
  now?: () => number;
  sender?: CodeSender;
  /** pino logger options or false; default: JSON logs at config.logLevel. */
  logger?: boolean | object;
  /** Test-only fault injection: pause between a finished upload and its commit. */
  faultDelayCommitMs?: number;
  /** Start the periodic retention job (default true). */
  jobs?: boolean;
}

export interface CofferServer {
  app: FastifyInstance;
  ctx: ServerContext;
  listen(): Promise<string>;
  close(): Promise<void>;
  runRetention(): ReturnType<typeof runRetention>;
}

async function loadSecret(db: Db, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  await db.db
    .insertInto('settings')
    .values({ name: 'server_secret', value: randomId(32) })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db.db
    .selectFrom('settings')
    .select('value')
    .where('name', '=', 'server_secret')
    .executeTakeFirstOrThrow();
  return row.value;
}

export async function createCofferServer(
  config: ServerConfig,
  opts: CofferServerOptions = {},
): Promise<CofferServer> {
  const now = opts.now ?? Date.now;
  let lock: DataDirLock | undefined;
  if (config.lockDataDir) lock = lockDataDir(config.dataDir);
  fs.mkdirSync(config.dataDir, { recursive: true });
  fs.mkdirSync(config.tusDir, { recursive: true });
  let db: Db | undefined;
  try {
    db = await createDb(config.databaseUrl, { baseDir: config.dataDir });
    // Retries transient store failures (S3 network errors, 5xx); see storage/blob-store-retry.ts.
    const blobs = await createBlobStore(config.blobUrl, { baseDir: config.dataDir });
    const secret = await loadSecret(db, config.serverSecret);
    return await build(config, opts, now, db, blobs, secret, lock);
  } catch (err) {
    await db?.close().catch(() => {});
    lock?.release();
    throw err;
  }
}

async function build(
  config: ServerConfig,
  opts: CofferServerOptions,
  now: () => number,
  db: Db,
  blobs: Awaited<ReturnType<typeof openBlobStore>>,
  secret: string,
  lock: DataDirLock | undefined,
): Promise<CofferServer> {
  const logger: Exclude<FastifyServerOptions['logger'], undefined> =
    opts.logger === false
      ? false
      : ({
          level: config.logLevel,
          // Never log URLs, headers or bodies: they carry directory names, tokens and identifiers.
          serializers: {
            req: (req: FastifyRequest) => ({
              method: req.method,
              route: req.routeOptions?.url ?? 'unmatched',
            }),
            res: (res: FastifyReply) => ({ statusCode: res.statusCode }),
          },
          ...(typeof opts.logger === 'object' ? opts.logger : {}),
        } as Exclude<FastifyServerOptions['logger'], undefined>);
  const app: FastifyInstance = Fastify({
    logger,
    bodyLimit: config.limits.bodyBytes,
    // Slow-loris / stalled uploads: Fastify's default (0) never closes an idle socket (issue 7).
    connectionTimeout: config.limits.idleTimeoutMs ?? 60_000,
    // ... and between requests: a kept-alive connection waiting for its next request is idle too.
    // Fastify's default (72 s, for load balancers with a 60 s idle timeout) held a connection whose
    // client went silent after a response for 73 s whatever limits.idleTimeoutMs said. Not below
    // Node's own 5 s: the value is advertised (Keep-Alive: timeout=N) and clients stop reusing a
    // connection a second before it, so a shorter one would make every request a new connection.
    keepAliveTimeout: Math.max(config.limits.idleTimeoutMs ?? 60_000, 5_000),
    // Errors before routing (a URL with bad percent-encoding) get the API's error body too (issue 7).
    frameworkErrors: (_err, _req, reply) => {
      (reply as FastifyReply)
        .status(400)
        .send(errorBody('COFFER_ERR_BAD_REQUEST', 'the request URL is malformed'));
    },
    trustProxy: config.trustProxy,
    return503OnClosing: true,
    // On close: idle keep-alive sockets are closed at once, in-flight requests may finish.
    forceCloseConnections: 'idle',
  });
  const ctx: ServerContext = { config, db: db.db, blobs, secret, now, log: app.log };
  if (opts.faultDelayCommitMs) ctx.faultDelayCommitMs = opts.faultDelayCommitMs;
  const scheme = new BlindRsaScheme(db.db, config.credentials.keyBits);
  const sender = opts.sender ?? createSender(config.verification.sender);
  const metrics = createMetrics();
  const { tus, source, recover, close: closeTus } = createTus(ctx);
  let ready = false;

  await app.register((await import('@fastify/swagger')).default, {
    openapi: {
      info: { title: 'Coffer API', version: '1.0.0', description: 'See docs/spec/api.md' },
      components: {
        securitySchemes: {
          device: { type: 'http', scheme: 'bearer', description: 'device token from POST /v1/accounts' },
          read: { type: 'http', scheme: 'bearer', description: 'read token from GET /v1/archives/auth/read' },
          anonymous: {
            type: 'apiKey',
            in: 'header',
            name: 'X-Coffer-Credential',
            description: 'credential + X-Coffer-Timestamp + X-Coffer-Signature (docs/spec/api.md)',
          },
        },
      },
    },
  });
  installErrorHandling(app);
  const backPressure = installBackPressure(app, {
    maxRequestsInFlight: config.limits.maxRequestsInFlight,
    maxEventLoopDelayMs: config.limits.maxEventLoopDelayMs,
    maxDbWaiting: config.limits.maxDbWaiting,
    retryAfterSeconds: config.limits.overloadRetryAfterSeconds,
    ...(db.waiting ? { dbWaiting: db.waiting } : {}),
  });
  installRequestRateLimit(app, config.limits.requestsPerMinutePerAddress, now);
  installMetrics(app, metrics);
  app.addHook('preHandler', refuseNonFiniteNumbers);

  // JSON bodies are kept raw too: the request signature covers the exact bytes (SHA-256 of the body).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const buf = body as Buffer;
    req.rawBody = buf;
    if (buf.length === 0) return done(null, undefined);
    try {
      done(null, JSON.parse(buf.toString('utf8')));
    } catch {
      done(
        new CofferError('COFFER_ERR_BAD_REQUEST', 'the body is not valid JSON') as unknown as Error,
        undefined,
      );
    }
  });
  // tus PATCH bodies stay unread here; @tus/server streams them to the file store.
  app.addContentTypeParser('application/offset+octet-stream', (_req, _payload, done) => done(null));

  const errors = {
    400: ErrorResponse,
    401: ErrorResponse,
    403: ErrorResponse,
    404: ErrorResponse,
    429: ErrorResponse,
  };
  const deviceAuth = async (req: FastifyRequest) => {
    req.device = await authenticateDevice(ctx, req.headers.authorization);
  };
  const anon =
    (need: AnonRequirement | ((req: FastifyRequest) => AnonRequirement)) => async (req: FastifyRequest) => {
      if (req.headers.authorization) {
        // spec 6.1: backup-id requests must not be tied to an account session.
        throw new CofferError(
          'COFFER_ERR_BAD_REQUEST',
          'anonymous endpoints must not carry an Authorization header',
        );
      }
      req.anon = await authenticateAnonymous(
        ctx,
        scheme,
        { method: req.method, url: req.url, headers: req.headers, rawBody: req.rawBody },
        typeof need === 'function' ? need(req) : need,
      );
    };
  const requireBackup = (req: FastifyRequest) => {
    const b = req.anon?.backup;
    if (!b) throw new CofferError('COFFER_ERR_BACKUP_ID_UNKNOWN', 'register the backup-id public key first');
    return b;
  };
  const baseUrl = (req: FastifyRequest) => config.publicUrl ?? `${req.protocol}://${req.host}`;
  const anonSecurity = [{ anonymous: [] }];

  // --- operations -------------------------------------------------------------------------------
  app.get(PATHS.healthz, { schema: { hide: true, response: { 200: HealthResponse } } }, async () => ({
    status: 'ok',
  }));
  app.get(PATHS.readyz, { schema: { hide: true } }, async (_req, reply) => {
    if (!ready) return reply.status(503).send(errorBody('COFFER_ERR_NOT_READY', 'not ready'));
    return { status: 'ready' };
  });
  app.get(PATHS.metrics, { schema: { hide: true } }, async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  app.get(PATHS.openapi, { schema: { hide: true } }, async () => app.swagger());

  // --- identity -----------------------------------------------------------------------------------
  app.post<{ Body: Static<typeof CreateSessionRequest> }>(
    PATHS.verificationSessions,
    {
      schema: {
        tags: ['identity'],
        body: CreateSessionRequest,
        response: { 200: CreateSessionResponse, ...errors },
      },
    },
    async (req) => {
      const s = await createSession(ctx, sender, req.body.identifier, req.ip);
      return { sessionId: s.sessionId, expiresAt: s.expiresAt, codeLength: 6 };
    },
  );
  app.put<{ Params: Static<typeof SessionParams>; Body: Static<typeof SubmitCodeRequest> }>(
    PATHS.verificationCode,
    {
      schema: {
        tags: ['identity'],
        params: SessionParams,
        body: SubmitCodeRequest,
        response: { 200: SubmitCodeResponse, ...errors },
      },
    },
    async (req) => {
      await submitCode(ctx, req.params.sessionId, req.body.code);
      return { verified: true };
    },
  );
  if (config.verification.devOutbox && sender instanceof DevSender) {
    app.get<{ Querystring: Static<typeof DevOutboxQuery> }>(
      PATHS.devOutbox,
      { schema: { hide: true, querystring: DevOutboxQuery, response: { 200: DevOutboxResponse } } },
      async (req) => ({
        messages: sender.outbox.get(normalizeIdentifier(req.query.identifier).identifier) ?? [],
      }),
    );
  }

  // --- accounts -----------------------------------------------------------------------------------
  app.post<{ Body: Static<typeof RegisterRequest> }>(
    PATHS.accounts,
    { schema: { tags: ['accounts'], body: RegisterRequest, response: { 200: RegisterResponse, ...errors } } },
    async (req) => registerAccount(ctx, req.body.sessionId),
  );
  app.get(
    PATHS.accountMe,
    {
      preValidation: deviceAuth,
      schema: {
        tags: ['accounts'],
        security: [{ device: [] }],
        response: { 200: AccountResponse, ...errors },
      },
    },
    async (req) => {
      const d = req.device as AuthenticatedDevice;
      return { aci: d.aci, deviceId: d.deviceId, level: d.level };
    },
  );

  // --- credentials --------------------------------------------------------------------------------
  app.get<{ Querystring: Static<typeof CredentialKeysQuery> }>(
    PATHS.credentialKeys,
    {
      schema: {
        tags: ['credentials'],
        querystring: CredentialKeysQuery,
        response: { 200: CredentialKeysResponse, ...errors },
      },
    },
    async (req) => {
      const { start, end } = req.query;
      checkRange([start, end], now());
      if (end < start) throw new CofferError('COFFER_ERR_CREDENTIAL_RANGE', 'end must not be before start');
      const { level } = req.query;
      if (level !== undefined && level !== BACKUP_LEVEL.FREE && level !== BACKUP_LEVEL.PAID) {
        throw new CofferError('COFFER_ERR_BAD_REQUEST', 'level must be 200 (free) or 201 (paid)');
      }
      const levels = level === undefined ? [BACKUP_LEVEL.FREE, BACKUP_LEVEL.PAID] : [level];
      const days: number[] = [];
      for (let t = start; t <= end; t += DAY_SECONDS) days.push(t);
      return {
        keys: await scheme.publicKeys(days, levels, [CREDENTIAL_TYPE.MESSAGES, CREDENTIAL_TYPE.MEDIA]),
      };
    },
  );
  app.post<{ Body: Static<typeof IssueCredentialsRequest> }>(
    PATHS.credentials,
    {
      preValidation: deviceAuth,
      schema: {
        tags: ['credentials'],
        security: [{ device: [] }],
        body: IssueCredentialsRequest,
        response: { 200: IssueCredentialsResponse, ...errors },
      },
    },
    async (req) => {
      const creds = await issueCredentials(ctx, scheme, req.device as AuthenticatedDevice, req.body);
      metrics.credentialsIssued.inc(creds.length);
      return { credentials: creds.map((c) => ({ ...c, blindSignature: toBase64Url(c.blindSignature) })) };
    },
  );

  // --- archives (anonymous, signed) ---------------------------------------------------------------
  const levelOf = (req: FastifyRequest) => (req.anon as AnonAuth).credential.level;
  app.put<{ Body: Static<typeof SetPublicKeyRequest> }>(
    PATHS.archiveKeys,
    {
      preValidation: anon((req) => {
        const raw = (req.body as { backupIdPublicKey?: unknown } | undefined)?.backupIdPublicKey;
        let key: Uint8Array = new Uint8Array(0);
        try {
          if (typeof raw === 'string') key = fromBase64Url(raw);
        } catch {}
        return { keyFromBody: key };
      }),
      schema: {
        tags: ['archives'],
        security: anonSecurity,
        body: SetPublicKeyRequest,
        response: { ...errors },
      },
    },
    async (req, reply) => {
      const a = req.anon as AnonAuth;
      await archives.setPublicKey(
        ctx,
        a.backupIdHash,
        a.backup,
        fromBase64Url(req.body.backupIdPublicKey),
        a.credential.level,
      );
      return reply.status(204).send();
    },
  );
  app.get(
    PATHS.archive,
    {
      preValidation: anon({}),
      schema: {
        tags: ['archives'],
        security: anonSecurity,
        response: { 200: BackupInfoResponse, ...errors },
      },
    },
    async (req) => archives.backupInfo(ctx, requireBackup(req), levelOf(req)),
  );
  app.post(
    PATHS.archive,
    {
      preValidation: anon({}),
      schema: { tags: ['archives'], security: anonSecurity, response: { ...errors } },
    },
    async (req, reply) => {
      await archives.refresh(ctx, requireBackup(req).backup_id_hash, levelOf(req));
      return reply.status(204).send();
    },
  );
  app.delete(
    PATHS.archive,
    {
      preValidation: anon({}),
      schema: { tags: ['archives'], security: anonSecurity, response: { ...errors } },
    },
    async (req, reply) => {
      await archives.deleteEverything(ctx, requireBackup(req));
      return reply.status(204).send();
    },
  );
  app.get<{ Querystring: Static<typeof UploadLengthQuery> }>(
    PATHS.archiveUploadForm,
    {
      preValidation: anon({ type: CREDENTIAL_TYPE.MESSAGES }),
      schema: {
        tags: ['archives'],
        security: anonSecurity,
        querystring: UploadLengthQuery,
        response: { 200: UploadForm, 413: ErrorResponse, ...errors },
      },
    },
    async (req) => {
      const b = requireBackup(req);
      const form = await archives.createUploadForm(
        ctx,
        b.backup_id_hash,
        'messages',
        req.query.uploadLength,
        baseUrl(req),
      );
      await archives.refresh(ctx, b.backup_id_hash, levelOf(req)); // spec 6.5: the upload form refreshes too
      return form;
    },
  );
  app.get(
    PATHS.archiveVersions,
    {
      preValidation: anon({}),
      schema: { tags: ['archives'], security: anonSecurity, response: { 200: VersionsResponse, ...errors } },
    },
    async (req) => ({ versions: await archives.listVersions(ctx, requireBackup(req)) }),
  );
  app.post<{ Params: Static<typeof VersionParams> }>(
    PATHS.archiveVersionRestore,
    {
      preValidation: anon({ type: CREDENTIAL_TYPE.MESSAGES }),
      schema: { tags: ['archives'], security: anonSecurity, params: VersionParams, response: { ...errors } },
    },
    async (req, reply) => {
      await archives.restoreVersion(ctx, requireBackup(req), req.params.versionId);
      return reply.status(204).send();
    },
  );
  app.get(
    PATHS.archiveReadAuth,
    {
      preValidation: anon({}),
      schema: { tags: ['archives'], security: anonSecurity, response: { 200: ReadAuthResponse, ...errors } },
    },
    async (req) => {
      const b = requireBackup(req);
      const expiresAt = now() + 60 * 60_000;
      const token = signToken(secret, { aud: 'read', exp: expiresAt, d: [b.backup_dir, b.media_dir] });
      const base = baseUrl(req);
      return {
        headers: { Authorization: `Bearer ${token}` },
        backupUrl: `${base}/v1/cdn/backups/${b.backup_dir}/messageBackup`,
        mediaUrlPrefix: `${base}/v1/cdn/media/${b.media_dir}/`,
        expiresAt,
      };
    },
  );

  // --- media tier ---------------------------------------------------------------------------------
  const mediaNeed = { type: CREDENTIAL_TYPE.MEDIA, needsMedia: true };
  app.get<{ Querystring: Static<typeof UploadLengthQuery> }>(
    PATHS.mediaUploadForm,
    {
      preValidation: anon(mediaNeed),
      schema: {
        tags: ['media'],
        security: anonSecurity,
        querystring: UploadLengthQuery,
        response: { 200: UploadForm, 413: ErrorResponse, ...errors },
      },
    },
    async (req) =>
      archives.createUploadForm(
        ctx,
        requireBackup(req).backup_id_hash,
        'media',
        req.query.uploadLength,
        baseUrl(req),
      ),
  );
  app.put<{ Body: Static<typeof StoreMediaRequest> }>(
    PATHS.media,
    {
      preValidation: anon(mediaNeed),
      schema: {
        tags: ['media'],
        security: anonSecurity,
        body: StoreMediaRequest,
        response: { 200: StoreMediaResponse, 410: ErrorResponse, 413: ErrorResponse, ...errors },
      },
    },
    async (req) => {
      const b = requireBackup(req);
      if (!/^[A-Za-z0-9_-]{20}$/.test(req.body.mediaId)) {
        throw new CofferError(
          'COFFER_ERR_INVALID_KEY',
          'mediaId must be 15 bytes in base64url (20 characters)',
        );
      }
      const r = await archives.storeMedia(ctx, source, b, levelOf(req), req.body);
      await archives.refresh(ctx, b.backup_id_hash, levelOf(req));
      return r;
    },
  );
  // Many store steps in one signed request: one signature check, one replay row, one transaction.
  app.put<{ Body: Static<typeof StoreMediaBatchRequest> }>(
    PATHS.mediaBatch,
    {
      // 1,000 items of up to ~140 bytes each must fit whatever the general JSON limit is.
      bodyLimit: Math.max(config.limits.bodyBytes, 256 * 1024),
      preValidation: anon(mediaNeed),
      schema: {
        tags: ['media'],
        security: anonSecurity,
        body: StoreMediaBatchRequest,
        response: { 200: StoreMediaBatchResponse, ...errors },
      },
    },
    async (req) => {
      const b = requireBackup(req);
      const rs = await archives.storeMediaBatch(ctx, source, b, levelOf(req), req.body.items);
      await archives.refresh(ctx, b.backup_id_hash, levelOf(req));
      return {
        responses: rs.map((r) =>
          'error' in r
            ? {
                mediaId: r.mediaId,
                status: r.status,
                error: { code: r.error.code, message: r.error.message },
              }
            : r,
        ),
      };
    },
  );
  app.get<{ Querystring: Static<typeof ListMediaQuery> }>(
    PATHS.media,
    {
      preValidation: anon({}),
      schema: {
        tags: ['media'],
        security: anonSecurity,
        querystring: ListMediaQuery,
        response: { 200: ListMediaResponse, ...errors },
      },
    },
    async (req) => archives.listMedia(ctx, requireBackup(req), req.query.cursor, req.query.limit ?? 1000),
  );
  app.post<{ Body: Static<typeof DeleteMediaRequest> }>(
    PATHS.mediaDelete,
    {
      preValidation: anon({ type: CREDENTIAL_TYPE.MEDIA }),
      schema: { tags: ['media'], security: anonSecurity, body: DeleteMediaRequest, response: { ...errors } },
    },
    async (req, reply) => {
      await archives.deleteMedia(
        ctx,
        requireBackup(req),
        req.body.mediaToDelete.map((m) => m.mediaId),
      );
      return reply.status(204).send();
    },
  );
  app.get(
    PATHS.mediaUsage,
    {
      preValidation: anon({}),
      schema: { tags: ['media'], security: anonSecurity, response: { 200: MediaUsageResponse, ...errors } },
    },
    async (req) => {
      const b = requireBackup(req);
      const u = await archives.mediaUsage(ctx, b.backup_id_hash);
      return { ...u, quotaBytes: levelConfig(ctx, levelOf(req)).mediaBytes };
    },
  );

  // --- reads ("CDN"): read token from GET /v1/archives/auth/read, HTTP ranges ---------------------------
  const readToken = (req: FastifyRequest, dir: string) => {
    const t = bearer(req.headers.authorization);
    const p = t
      ? verifyToken<{ aud: 'read'; exp: number; d: string[] }>(secret, t, 'read', now())
      : undefined;
    if (!p || !Array.isArray(p.d) || !p.d.includes(dir)) {
      throw new CofferError(
        'COFFER_ERR_READ_TOKEN_INVALID',
        'the read token is missing, expired or for another backup',
      );
    }
  };
  app.get<{ Params: { backupDir: string; backupName: string }; Querystring: { version?: string } }>(
    PATHS.cdnBackup,
    { schema: { tags: ['reads'], security: [{ read: [] }] } },
    async (req, reply) => {
      readToken(req, req.params.backupDir);
      const v = await archives.resolveBackupBlob(
        ctx,
        req.params.backupDir,
        req.params.backupName,
        req.query.version,
      );
      return serveRange(req, reply, blobs, v.blobKey, new Date(v.modifiedAt));
    },
  );
  app.get<{ Params: { mediaDir: string; mediaId: string } }>(
    PATHS.cdnMedia,
    { schema: { tags: ['reads'], security: [{ read: [] }] } },
    async (req, reply) => {
      readToken(req, req.params.mediaDir);
      const m = await archives.resolveMediaBlob(ctx, req.params.mediaDir, req.params.mediaId);
      return serveRange(req, reply, blobs, m.blobKey, undefined);
    },
  );

  // --- tus uploads --------------------------------------------------------------------------------
  const tusHandler = async (req: FastifyRequest, reply: FastifyReply) => {
    // A committed messages upload reports itself complete, so a client resuming after a crash
    // during the commit sees the upload finished instead of starting over.
    if (req.method === 'HEAD') {
      const id = (req.params as { '*'?: string })['*'];
      const token = bearer(req.headers.authorization);
      const p = token
        ? verifyToken<{ aud: 'upload'; exp: number; u: string }>(secret, token, 'upload', now())
        : undefined;
      if (id && p?.u === id) {
        let row = await ctx.db
          .selectFrom('uploads')
          .select(['state', 'size', 'kind'])
          .where('upload_id', '=', id)
          .executeTakeFirst();
        // A finished messages upload whose commit was interrupted (crash, storage error) is committed
        // now, before the client is told the upload is complete.
        if (row?.kind === 'messages' && row.state === 'created') {
          const st = await source.status(id);
          if (st && st.size !== undefined && st.offset === st.size) {
            await archives.commitMessagesUpload(ctx, source, id, st.size);
            row = await ctx.db
              .selectFrom('uploads')
              .select(['state', 'size', 'kind'])
              .where('upload_id', '=', id)
              .executeTakeFirst();
          }
        }
        if (row?.state === 'committed') {
          const size = String(row.size);
          return reply
            .status(200)
            .headers({
              'tus-resumable': '1.0.0',
              'upload-offset': size,
              'upload-length': size,
              'cache-control': 'no-store',
            })
            .send();
        }
      }
    }
    // limits.idleTimeoutMs is for clients that stop sending (stalled uploads, slow-loris). Once the
    // body is in, the wait is ours (S3 parts, the commit) and the client is owed an answer.
    // (In-process inject requests have a mock socket without setTimeout: the TypeError thrown in this
    // listener stalled every later tus request of api-errors.test.ts.)
    req.raw.once('end', () => req.raw.socket?.setTimeout?.(0));
    reply.hijack();
    await tus.handle(req.raw, reply.raw);
  };
  for (const url of [PATHS.uploads, `${PATHS.uploads}/*`]) {
    app.route({
      method: ['POST', 'HEAD', 'PATCH', 'DELETE', 'OPTIONS'],
      url,
      schema: { hide: true },
      handler: tusHandler,
    });
  }

  if (config.webDir) serveWebApp(app, config.webDir);

  await app.ready();
  await recover();

  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let pregen: Promise<void> = Promise.resolve();
  const retention = () => runRetention(ctx, source);
  // Rotation: today's and the coming week's credential keys are created ahead of use, one at a time
  // in the background (at start and with every job run); close() waits for the key in progress.
  const pregenerateKeys = () => {
    pregen = pregen
      .then(async () => {
        const today = dayStart(now());
        for (let i = 0; i < 8; i++) {
          for (const type of [CREDENTIAL_TYPE.MESSAGES, CREDENTIAL_TYPE.MEDIA]) {
            if (closed) return;
            await scheme.publicKeys([today + i * DAY_SECONDS], [config.defaultLevel], [type]);
          }
        }
      })
      .catch((err: unknown) => app.log.warn({ err: String(err) }, 'credential key pre-generation failed'));
  };
  if (opts.jobs !== false) {
    timer = setInterval(() => {
      retention().catch((err: unknown) => app.log.error({ err: String(err) }, 'retention job failed'));
      pregenerateKeys();
    }, config.retention.intervalMs);
    timer.unref();
    pregenerateKeys();
  }

  return {
    app,
    ctx,
    async listen() {
      const address = await app.listen({ host: config.host, port: config.port });
      ready = true;
      app.log.info({ config: redactedConfig(config) }, 'coffer server listening');
      return address;
    },
    async close() {
      if (closed) return;
      closed = true;
      ready = false;
      if (timer) clearInterval(timer);
      // app.close() closes idle keep-alive sockets once, at its start: a response that finishes
      // after that (a download ending just then) left its socket open until the idle timeout, and
      // close() waited as long. Sweeping again until it returns closes those too.
      const sweep = setInterval(() => app.server.closeIdleConnections(), 200);
      try {
        await app.close();
      } finally {
        clearInterval(sweep);
      }
      backPressure.stop();
      await pregen;
      await closeTus();
      await blobs.close();
      await db.close();
      lock?.release();
    },
    runRetention: retention,
  };
}
