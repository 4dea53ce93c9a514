/**
 * Opening stores by URL, for operators (docs/operating.md "Scale-out"):
 *   file:./data/blobs
 *   s3://BUCKET?endpoint=https://s3.example.net&region=us-east-1&forcePathStyle=true&prefix=coffer/
 * Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN), or from
 * the URL's userinfo (`s3://KEY:SECRET@BUCKET?...`, percent-encoded), else the AWS SDK's default
 * chain (profiles, instance roles). Anything printed about a store goes through `redactUrl`.
 */
import { CofferError } from '@coffer/crypto';
import { type BlobStore, openBlobStore } from './blob-store.ts';
import { type RetryOptions, withRetry } from './blob-store-retry.ts';
import type { S3BlobStoreOptions } from './s3-blob-store.ts';

/** Query parameter names whose values are secrets and never printed. */
const SECRET_PARAM = /pass|secret|token|credential|signature|sig$|^key$|accesskey|apikey/i;

/**
 * A URL safe to log: userinfo (user and password) and secret-looking query values replaced by
 * `***`. Anything that does not parse as a URL is replaced whole, since we cannot tell what is in it.
 */
export function redactUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return '<unparseable URL>';
  }
  if (u.password) u.password = '***';
  // s3:// userinfo is an access key id: not the secret, but still a credential to keep out of logs.
  if (u.username && (u.password || u.protocol === 's3:')) u.username = '***';
  for (const name of [...u.searchParams.keys()]) {
    if (SECRET_PARAM.test(name)) u.searchParams.set(name, '***');
  }
  return u.toString();
}

function configError(message: string): CofferError {
  return new CofferError('COFFER_ERR_CONFIG', message);
}

function intParam(u: URL, name: string): number | undefined {
  const v = u.searchParams.get(name);
  if (v === null) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw configError(`the S3 URL parameter ${name} must be a positive integer`);
  return n;
}

/**
 * Parses `s3://[KEY:SECRET@]BUCKET?endpoint=&region=&forcePathStyle=&prefix=&partSize=&partConcurrency=`.
 * `env` defaults to process.env (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION).
 */
export function parseS3BlobStoreUrl(url: string, env: NodeJS.ProcessEnv = process.env): S3BlobStoreOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw configError('the S3 blob store URL does not parse: s3://BUCKET?endpoint=...&region=...');
  }
  if (u.protocol !== 's3:') throw configError('the S3 blob store URL must start with s3://');
  const bucket = u.hostname;
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw configError('the S3 bucket name must be 3-63 characters of a-z, 0-9, "." and "-"');
  }
  const known = new Set([
    'endpoint',
    'region',
    'forcePathStyle',
    'prefix',
    'partSize',
    'partConcurrency',
    'bulkDelete',
  ]);
  for (const name of u.searchParams.keys()) {
    if (!known.has(name))
      throw configError(`unknown S3 URL parameter "${name}" (known: ${[...known].join(', ')})`);
  }
  const endpoint = u.searchParams.get('endpoint') ?? undefined;
  if (endpoint !== undefined && !/^https?:\/\//.test(endpoint)) {
    throw configError(
      'the S3 endpoint must be an http:// or https:// URL (percent-encoded inside the s3:// URL)',
    );
  }
  const forcePathStyle = u.searchParams.get('forcePathStyle');
  if (forcePathStyle !== null && forcePathStyle !== 'true' && forcePathStyle !== 'false') {
    throw configError('forcePathStyle must be true or false');
  }
  const bulkDelete = u.searchParams.get('bulkDelete');
  if (bulkDelete !== null && bulkDelete !== 'batch' && bulkDelete !== 'single') {
    throw configError('bulkDelete must be batch or single');
  }
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  if ((user === '') !== (pass === ''))
    throw configError('S3 URL credentials need both KEY and SECRET (s3://KEY:SECRET@BUCKET)');
  let credentials: S3BlobStoreOptions['credentials'];
  if (user) credentials = { accessKeyId: user, secretAccessKey: pass };
  else if (env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    credentials = {
      accessKeyId: env.AWS_ACCESS_KEY_ID,
      secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
      ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
    };
  }
  return {
    bucket,
    endpoint,
    region: u.searchParams.get('region') ?? env.AWS_REGION ?? 'us-east-1',
    // Path-style unless told otherwise: S3-compatible stores rarely have wildcard DNS for buckets.
    forcePathStyle: forcePathStyle !== 'false',
    credentials,
    prefix: u.searchParams.get('prefix') ?? undefined,
    partSize: intParam(u, 'partSize'),
    partConcurrency: intParam(u, 'partConcurrency'),
    bulkDelete: (bulkDelete as 'batch' | 'single' | null) ?? undefined,
  };
}

/**
 * Opens the blob store a URL names and wraps it with retries (transient failures only).
 * This is what `coffer serve` should use; `openBlobStore` gives the bare driver.
 */
export async function createBlobStore(
  url: string,
  opts: { baseDir?: string; retry?: RetryOptions | false } = {},
): Promise<BlobStore> {
  const store = await openBlobStore(url, opts.baseDir === undefined ? {} : { baseDir: opts.baseDir });
  return opts.retry === false ? store : withRetry(store, opts.retry ?? {});
}
