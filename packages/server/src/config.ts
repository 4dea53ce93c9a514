/**
 * Server configuration: defaults < JSON config file < environment variables < explicit overrides
 * (the CLI flags). docs/operating.md lists every setting. Secrets (SMTP URL, server secret) are never
 * logged: `redactedConfig()` gives the loggable form.
 */
import fs from 'node:fs';
import path from 'node:path';
import { CofferError } from '@coffer/crypto';

export interface LevelConfig {
  /** Media bytes allowed; 0 = no media tier at this level (media endpoints answer 403). */
  mediaBytes: number;
  /** Media older than this many days is dropped by the retention job; 0 = kept while the backup lives. */
  mediaTtlDays: number;
}

export type SenderConfig =
  | { kind: 'dev' }
  | { kind: 'smtp'; url: string; from: string }
  | { kind: 'webhook'; url: string; headers?: Record<string, string> };

export interface ServerConfig {
  dataDir: string;
  host: string;
  port: number;
  /** Base URL clients use to reach this server (upload and download URLs); default from the Host header. */
  publicUrl?: string;
  databaseUrl: string;
  blobUrl: string;
  tusDir: string;
  /** Shared secret for tokens and identifier hashing; generated and stored in the database if absent. */
  serverSecret?: string;
  /** Refuse a second process on the same data folder (embedded mode). */
  lockDataDir: boolean;
  logLevel: string;
  trustProxy: boolean;
  webDir?: string;
  verification: {
    codeTtlMs: number;
    maxAttempts: number;
    sender: SenderConfig;
    devOutbox: boolean;
    perIdentifier: { limit: number; windowMs: number };
    perAddress: { limit: number; windowMs: number };
  };
  credentials: { keyBits: number; maxRequestsPerDay: number };
  signatures: { maxSkewSeconds: number };
  defaultLevel: number;
  levels: { free: LevelConfig; paid: LevelConfig };
  messageBackupMaxBytes: number;
  mediaObjectMaxBytes: number;
  versionsKept: number;
  retention: { idleDays: number; intervalMs: number };
  uploads: { tokenTtlMs: number; orphanAfterMs: number };
  limits: {
    bodyBytes: number;
    requestsPerMinutePerAddress: number;
    /** A connection idle this long (no bytes either way) is closed: stalled / slow-loris uploads. */
    idleTimeoutMs?: number;
    /** Upload forms (messages + media) per backup id per hour. */
    uploadFormsPerHour: number;
    /** Back-pressure (http/back-pressure.ts): beyond these, new requests get 503 OVERLOADED; 0 = off. */
    maxRequestsInFlight: number;
    maxEventLoopDelayMs: number;
    maxDbWaiting: number;
    overloadRetryAfterSeconds: number;
  };
}

const GiB = 1024 ** 3;

export function defaultConfig(dataDir = './data'): ServerConfig {
  const d = path.resolve(dataDir);
  return {
    dataDir: d,
    host: '127.0.0.1',
    port: 8080,
    databaseUrl: `sqlite:${path.join(d, 'coffer.db')}`,
    blobUrl: `file:${path.join(d, 'blobs')}`,
    tusDir: path.join(d, 'tus'),
    lockDataDir: true,
    logLevel: 'info',
    trustProxy: false,
    verification: {
      codeTtlMs: 10 * 60_000,
      maxAttempts: 5,
      sender: { kind: 'dev' },
      devOutbox: false,
      perIdentifier: { limit: 5, windowMs: 60 * 60_000 },
      perAddress: { limit: 20, windowMs: 60 * 60_000 },
    },
    credentials: { keyBits: 2048, maxRequestsPerDay: 20 },
    signatures: { maxSkewSeconds: 300 },
    defaultLevel: 200,
    levels: {
      free: { mediaBytes: 1 * GiB, mediaTtlDays: 45 },
      paid: { mediaBytes: 100 * GiB, mediaTtlDays: 0 },
    },
    messageBackupMaxBytes: 1 * GiB,
    mediaObjectMaxBytes: 100 * 1024 ** 2,
    versionsKept: 3,
    retention: { idleDays: 120, intervalMs: 60 * 60_000 },
    uploads: { tokenTtlMs: 24 * 60 * 60_000, orphanAfterMs: 24 * 60 * 60_000 },
    limits: {
      bodyBytes: 64 * 1024,
      requestsPerMinutePerAddress: 1200,
      idleTimeoutMs: 60_000,
      uploadFormsPerHour: 1000,
      maxRequestsInFlight: 1024,
      maxEventLoopDelayMs: 1000,
      maxDbWaiting: 200,
      overloadRetryAfterSeconds: 2,
    },
  };
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> | T[K] : T[K] };

function merge<T>(base: T, over: unknown): T {
  if (over === undefined || over === null) return base;
  if (typeof base !== 'object' || base === null || Array.isArray(base) || typeof over !== 'object')
    return over as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    if (v === undefined) continue;
    out[k] = k === 'sender' ? v : merge(out[k], v);
  }
  return out as T;
}

/** Builds the config: defaults, then `file` (JSON), then env (COFFER_*), then `overrides`. */
export function loadConfig(
  opts: {
    file?: string;
    env?: Record<string, string | undefined>;
    overrides?: DeepPartial<ServerConfig>;
  } = {},
): ServerConfig {
  const env = opts.env ?? process.env;
  let fileCfg: DeepPartial<ServerConfig> = {};
  if (opts.file) {
    try {
      fileCfg = JSON.parse(fs.readFileSync(opts.file, 'utf8')) as DeepPartial<ServerConfig>;
    } catch (cause) {
      throw new CofferError('COFFER_ERR_CONFIG', 'the config file cannot be read as JSON', { cause });
    }
  }
  const envCfg: DeepPartial<ServerConfig> = {};
  const e = (k: string) => (env[k] === undefined || env[k] === '' ? undefined : env[k]);
  if (e('COFFER_HOST')) envCfg.host = e('COFFER_HOST') as string;
  if (e('COFFER_PORT')) envCfg.port = Number(e('COFFER_PORT'));
  if (e('COFFER_PUBLIC_URL')) envCfg.publicUrl = e('COFFER_PUBLIC_URL') as string;
  if (e('COFFER_DATABASE_URL')) envCfg.databaseUrl = e('COFFER_DATABASE_URL') as string;
  if (e('COFFER_BLOB_URL')) envCfg.blobUrl = e('COFFER_BLOB_URL') as string;
  if (e('COFFER_SERVER_SECRET')) envCfg.serverSecret = e('COFFER_SERVER_SECRET') as string;
  if (e('COFFER_LOG_LEVEL')) envCfg.logLevel = e('COFFER_LOG_LEVEL') as string;
  if (e('COFFER_DEV_OUTBOX')) envCfg.verification = { devOutbox: e('COFFER_DEV_OUTBOX') === '1' };
  const sender = e('COFFER_SENDER');
  if (sender === 'smtp') {
    envCfg.verification = {
      ...envCfg.verification,
      sender: {
        kind: 'smtp',
        url: e('COFFER_SMTP_URL') ?? '',
        from: e('COFFER_SMTP_FROM') ?? 'coffer@localhost',
      },
    };
  } else if (sender === 'webhook') {
    envCfg.verification = {
      ...envCfg.verification,
      sender: { kind: 'webhook', url: e('COFFER_WEBHOOK_URL') ?? '' },
    };
  }
  const dataDir = (opts.overrides?.dataDir ?? e('COFFER_DATA') ?? fileCfg.dataDir ?? './data') as string;
  let cfg = defaultConfig(dataDir);
  cfg = merge(cfg, { ...fileCfg, dataDir: cfg.dataDir });
  cfg = merge(cfg, envCfg);
  cfg = merge(cfg, { ...opts.overrides, dataDir: cfg.dataDir });
  if (!Number.isInteger(cfg.port) || cfg.port < 0 || cfg.port > 65535) {
    throw new CofferError('COFFER_ERR_CONFIG', 'the port must be an integer from 0 to 65535');
  }
  return cfg;
}

/** The config with secrets removed, for logs. */
export function redactedConfig(cfg: ServerConfig): Record<string, unknown> {
  const strip = (u: string) => u.replace(/\/\/[^@/]*@/, '//***@');
  return {
    host: cfg.host,
    port: cfg.port,
    dataDir: cfg.dataDir,
    database: strip(cfg.databaseUrl).replace(/\?.*$/, ''),
    blobs: strip(cfg.blobUrl).replace(/\?.*$/, ''),
    sender: cfg.verification.sender.kind,
    devOutbox: cfg.verification.devOutbox,
  };
}
