import { createHash } from 'node:crypto';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

/** What it takes to reach a bucket; parsed from an `s3://` URL by blob-store-factory.ts. */
export interface S3ConnectionOptions {
  bucket: string;
  /** Custom endpoint for S3-compatible stores (Swift, Ceph, MinIO); unset for AWS. */
  endpoint?: string | undefined;
  region?: string | undefined;
  /** Path-style addressing (`endpoint/bucket/key`): what most S3-compatible servers need. */
  forcePathStyle?: boolean | undefined;
  /** Unset: the SDK's default chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profiles, roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  /** SDK-level attempts per HTTP request (default 3). */
  maxAttempts?: number | undefined;
}

/**
 * An S3Client with the settings S3-compatible servers need (INFRA-NOTES, "OpenStack Swift"):
 * - checksums only WHEN_REQUIRED: the SDK's default aws-chunked trailing checksums make Swift
 *   refuse streamed uploads ("aws-chunked ... not supported"), and tus PATCH returns 500;
 * - a Content-MD5 header on DeleteObjects (Swift requires it; the current SDK sends a CRC instead).
 * The same client is handed to @tus/s3-store, so tus uploads get the same settings.
 */
export function createS3Client(opts: S3ConnectionOptions): S3Client {
  const client = new S3Client(s3ClientConfig(opts));
  addDeleteObjectsContentMd5(client);
  return client;
}

/** The S3ClientConfig behind createS3Client (for @tus/s3-store, which builds its own client). */
export function s3ClientConfig(opts: S3ConnectionOptions): S3ClientConfig {
  const config: S3ClientConfig = {
    region: opts.region ?? 'us-east-1',
    forcePathStyle: opts.forcePathStyle ?? true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: opts.maxAttempts ?? 3,
    requestHandler: { connectionTimeout: 5_000, requestTimeout: 120_000 },
  };
  if (opts.endpoint) config.endpoint = opts.endpoint;
  if (opts.credentials) config.credentials = opts.credentials;
  return config;
}

/** Build-step middleware: Content-MD5 of the DeleteObjects XML body (required by Swift's s3api). */
export function addDeleteObjectsContentMd5(client: Pick<S3Client, 'middlewareStack'>): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      if (context.commandName === 'DeleteObjectsCommand' && request.headers) {
        const body = request.body;
        if (typeof body === 'string' || body instanceof Uint8Array) {
          const md5 = createHash('md5').update(body).digest('base64');
          // Drop other casings first, then set ours: the signer signs what is here.
          for (const h of Object.keys(request.headers))
            if (h.toLowerCase() === 'content-md5') delete request.headers[h];
          request.headers['content-md5'] = md5;
        }
      }
      return next(args);
    },
    { step: 'build', name: 'cofferDeleteObjectsContentMd5', priority: 'low' },
  );
}
