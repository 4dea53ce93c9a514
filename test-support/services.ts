/**
 * Real services for tests: PostgreSQL and an S3-compatible object store.
 *
 * - PostgreSQL: COFFER_TEST_PG_URL, default postgres://postgres@127.0.0.1:5432/test (the server that
 *   runs on the development and CI machines). Each test gets its own schema (`createPgSchema()`),
 *   selected through the connection string's `options=-c search_path=...`, so suites run
 *   concurrently in one database and the code under test needs no schema awareness.
 * - S3: COFFER_TEST_S3_URL (`s3://bucket?endpoint=...`, credentials from AWS_ACCESS_KEY_ID /
 *   AWS_SECRET_ACCESS_KEY or the URL's userinfo). Unset, the Vitest global setup starts a throwaway
 *   OpenStack Swift on first use. Each test gets its own key prefix (`createS3Prefix()`).
 *
 * A test that cannot reach a service FAILS with a message saying what to start or set: tests
 * never skip (in CI, .ci/run starts both services; see INFRA-NOTES).
 */

import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { resolve } from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import pg from 'pg';
import { repoRoot } from './vectors.ts';

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
/** Credentials of the throwaway Swift (tempauth user from s3-swift.sh). */
export const S3_TEST_USER = 'test:tester';
export const S3_TEST_SECRET = 'testing';

/** True in CI (.ci/run exports CI=true). */
export const isCI = process.env.CI === 'true' || process.env.CI === '1';

/** The folder with the team's shared scripts (s3-swift.sh, postgres-throwaway.sh). */
export function sharedScriptsDir(): string {
  return resolve(process.env.COFFER_SHARED_DIR ?? resolve(repoRoot, '../shared'), 'scripts');
}

/** Identifies one `vitest run`; schemas and prefixes carry it so leftovers can be swept. */
export function testRunId(): string {
  const id = process.env.COFFER_TEST_RUN_ID ?? `r${process.pid.toString(36)}`;
  return id.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function uniqueName(label: string): string {
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .slice(0, 20);
  return `${clean}_${randomBytes(4).toString('hex')}`;
}

/** Hides the password / secret in a service URL for messages. */
export function redactServiceUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    if (u.username && u.protocol.startsWith('s3')) u.username = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}

function unavailable(service: string, url: string, hint: string, cause: unknown): Error {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new Error(
    `${service} is not reachable at ${redactServiceUrl(url)} (${reason}). ${hint}` +
      (isCI ? ' In CI this is a failure: .ci/run must start the service.' : ''),
    { cause },
  );
}

// ---------------------------------------------------------------- PostgreSQL

/** The PostgreSQL server tests use (a database URL; tests make their own schema inside it). */
export function pgBaseUrl(): string {
  return process.env.COFFER_TEST_PG_URL || DEFAULT_PG_URL;
}

/** Adds `search_path=<schema>` to a postgres URL (libpq `options`, passed on by npm `pg`). */
export function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

export interface PgSchema {
  /** Connection URL whose sessions use only this schema. */
  url: string;
  schema: string;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
}

async function pgAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = pgBaseUrl();
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw unavailable(
      'PostgreSQL',
      url,
      'Start PostgreSQL (or ../shared/scripts/postgres-throwaway.sh DIR PORT) and set COFFER_TEST_PG_URL.',
      err,
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates a fresh schema for one test (or suite) and returns a URL bound to it. */
export async function createPgSchema(label = 't'): Promise<PgSchema> {
  const schema = `coffer_t_${testRunId()}_${uniqueName(label)}`;
  await pgAdmin((c) => c.query(`CREATE SCHEMA "${schema}"`));
  return {
    url: withSearchPath(pgBaseUrl(), schema),
    schema,
    drop: () => pgAdmin((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)).then(() => undefined),
  };
}

/** Removes schemas a run left behind (a killed test); called by the global teardown. */
export async function dropRunSchemas(runId: string): Promise<void> {
  const prefix = `coffer_t_${runId.toLowerCase().replace(/[^a-z0-9]/g, '')}_`;
  await pgAdmin(async (c) => {
    const { rows } = await c.query<{ nspname: string }>(
      'SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)',
      [prefix],
    );
    for (const { nspname } of rows) await c.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
  });
}

// ---------------------------------------------------------------- S3

let s3UrlPromise: Promise<string> | undefined;

/** The S3 URL for tests: COFFER_TEST_S3_URL, or a throwaway Swift started by the global setup. */
export function s3BaseUrl(): Promise<string> {
  s3UrlPromise ??= resolveS3Url();
  return s3UrlPromise;
}

async function resolveS3Url(): Promise<string> {
  const fromEnv = process.env.COFFER_TEST_S3_URL;
  if (fromEnv) return fromEnv;
  const socketPath = process.env.COFFER_TEST_SERVICES_SOCKET;
  if (!socketPath) {
    throw new Error(
      'No S3 store for tests: set COFFER_TEST_S3_URL (s3://bucket?endpoint=...&region=...&forcePathStyle=true) ' +
        'or run the tests through vitest with the repository config (its global setup starts a throwaway Swift).',
    );
  }
  // The global setup (main process) starts Swift once per run; the request waits for it.
  return new Promise((resolvePromise, reject) => {
    const req = request({ socketPath, path: '/s3', method: 'POST', timeout: 180_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => (res.statusCode === 200 ? resolvePromise(body) : reject(new Error(body))));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Parts of an `s3://` URL that tests need to talk to the bucket directly. */
export interface S3Target {
  bucket: string;
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
}

export function parseS3Url(url: string): S3Target {
  const u = new URL(url);
  if (u.protocol !== 's3:') throw new Error(`not an s3:// URL: ${redactServiceUrl(url)}`);
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  const envKey = process.env.AWS_ACCESS_KEY_ID;
  const envSecret = process.env.AWS_SECRET_ACCESS_KEY;
  return {
    bucket: u.hostname,
    endpoint: u.searchParams.get('endpoint') ?? undefined,
    region: u.searchParams.get('region') ?? 'us-east-1',
    forcePathStyle: u.searchParams.get('forcePathStyle') !== 'false',
    credentials:
      user && pass
        ? { accessKeyId: user, secretAccessKey: pass }
        : envKey && envSecret
          ? { accessKeyId: envKey, secretAccessKey: envSecret }
          : undefined,
  };
}

/** An S3Client with the settings S3-compatible servers need (INFRA-NOTES: Swift). */
export function testS3Client(target: S3Target): S3Client {
  return new S3Client({
    region: target.region,
    forcePathStyle: target.forcePathStyle,
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    ...(target.credentials ? { credentials: target.credentials } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
}

export interface S3Prefix {
  /** `s3://` URL with `prefix=<run>/<test>/`: a store opened on it sees only this test's keys. */
  url: string;
  bucket: string;
  prefix: string;
  target: S3Target;
  /** Deletes every object under the prefix. */
  cleanup(): Promise<void>;
}

const ensuredBuckets = new Map<string, Promise<void>>();

async function ensureBucket(client: S3Client, bucket: string, url: string): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return;
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 404) {
      throw unavailable(
        'The S3 store',
        url,
        'Set COFFER_TEST_S3_URL and AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or let the test run start Swift.',
        err,
      );
    }
  }
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
  }
}

/** Gives one test its own prefix in the test bucket (creating the bucket once). */
export async function createS3Prefix(label = 't'): Promise<S3Prefix> {
  const base = await s3BaseUrl();
  const target = parseS3Url(base);
  let ensured = ensuredBuckets.get(base);
  if (!ensured) {
    const client = testS3Client(target);
    ensured = ensureBucket(client, target.bucket, base).finally(() => client.destroy());
    ensuredBuckets.set(base, ensured);
    ensured.catch(() => ensuredBuckets.delete(base));
  }
  await ensured;
  const prefix = `${testRunId()}/${uniqueName(label)}/`;
  const u = new URL(base);
  u.searchParams.set('prefix', prefix);
  return {
    url: u.toString(),
    bucket: target.bucket,
    prefix,
    target,
    cleanup: async () => {
      const c = testS3Client(target);
      try {
        let token: string | undefined;
        do {
          const page = await c.send(
            new ListObjectsV2Command({ Bucket: target.bucket, Prefix: prefix, ContinuationToken: token }),
          );
          // One-by-one: Swift's DeleteObjects wants a Content-MD5 the SDK no longer sends.
          for (const o of page.Contents ?? []) {
            if (o.Key) await c.send(new DeleteObjectCommand({ Bucket: target.bucket, Key: o.Key }));
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
      } finally {
        c.destroy();
      }
    },
  };
}

// ---------------------------------------------------------------- ports

/**
 * Listens on the first free port of a range (the scale-out tests use 26100-26399; other test
 * authors pass their own range). Binding is the check, so two processes never get the same port.
 */
export async function listenInRange(
  server: {
    listen(port: number, host: string): unknown;
    once(ev: string, fn: (...a: unknown[]) => void): unknown;
    off(ev: string, fn: (...a: unknown[]) => void): unknown;
  },
  first = 26100,
  last = 26399,
): Promise<number> {
  const span = last - first + 1;
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const port = first + ((start + i) % span);
    const ok = await new Promise<boolean>((resolvePort) => {
      const onError = (): void => {
        server.off('listening', onListening);
        resolvePort(false);
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolvePort(true);
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(port, '127.0.0.1');
    });
    if (ok) return port;
  }
  throw new Error(`no free port between ${first} and ${last}`);
}

/** A free port of the range, for a child process to listen on (released before returning). */
export async function freePortInRange(first = 26100, last = 26399): Promise<number> {
  const { createServer } = await import('node:net');
  const srv = createServer();
  const port = await listenInRange(srv, first, last);
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

// ---------------------------------------------------------------- server storage under test

/** Which storage the server tests run on: COFFER_TEST_STORAGE=pg-s3, or the embedded default. */
export function testStorageKind(): 'embedded' | 'pg-s3' {
  const v = process.env.COFFER_TEST_STORAGE ?? 'embedded';
  if (v !== 'embedded' && v !== 'pg-s3')
    throw new Error(`COFFER_TEST_STORAGE must be embedded or pg-s3, not ${v}`);
  return v;
}

/**
 * Config overrides that put a test server on PostgreSQL + S3 (a fresh schema and key prefix) when
 * COFFER_TEST_STORAGE=pg-s3; nothing (SQLite + files in the data folder) otherwise.
 */
export interface TestStorage {
  kind: 'embedded' | 'pg-s3';
  overrides: { databaseUrl?: string; blobUrl?: string };
  cleanup(): Promise<void>;
}

const storageByKey = new Map<string, Promise<TestStorage>>();

/**
 * The same storage for the same key (e.g. a test server's data folder), so a server restarted on
 * one folder finds its database and blobs again. `cleanup()` drops it and forgets the key.
 */
export function testStorageFor(key: string, label = 'srv'): Promise<TestStorage> {
  let p = storageByKey.get(key);
  if (!p) {
    p = testStorage(label).then((s) => ({
      ...s,
      cleanup: async () => {
        storageByKey.delete(key);
        await s.cleanup();
      },
    }));
    storageByKey.set(key, p);
    p.catch(() => storageByKey.delete(key));
  }
  return p;
}

export async function testStorage(label = 'srv'): Promise<TestStorage> {
  if (testStorageKind() === 'embedded') return { kind: 'embedded', overrides: {}, cleanup: async () => {} };
  const schema = await createPgSchema(label);
  const prefix = await createS3Prefix(label).catch(async (err: unknown) => {
    await schema.drop();
    throw err;
  });
  return {
    kind: 'pg-s3',
    overrides: { databaseUrl: schema.url, blobUrl: prefix.url },
    cleanup: async () => {
      await schema.drop();
      await prefix.cleanup();
    },
  };
}
