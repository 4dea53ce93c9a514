/**
 * The API paths (docs/spec/api.md). Fastify-style `:param` placeholders; `apiPath()` fills them.
 * Archive endpoints follow Signal's `/v1/archives` (spec 6.3) under Coffer's own prefix.
 */
export const API_PREFIX = '/v1';

export const PATHS = {
  verificationSessions: '/v1/verification/sessions',
  verificationCode: '/v1/verification/sessions/:sessionId/code',
  devOutbox: '/v1/dev/outbox',
  accounts: '/v1/accounts',
  accountMe: '/v1/accounts/me',
  credentialKeys: '/v1/credentials/keys',
  credentials: '/v1/credentials',
  archiveKeys: '/v1/archives/keys',
  archive: '/v1/archives',
  archiveUploadForm: '/v1/archives/upload/form',
  archiveVersions: '/v1/archives/versions',
  archiveVersionRestore: '/v1/archives/versions/:versionId/restore',
  archiveReadAuth: '/v1/archives/auth/read',
  mediaUploadForm: '/v1/archives/media/upload/form',
  media: '/v1/archives/media',
  mediaBatch: '/v1/archives/media/batch',
  mediaDelete: '/v1/archives/media/delete',
  mediaUsage: '/v1/archives/media/usage',
  cdnBackup: '/v1/cdn/backups/:backupDir/:backupName',
  cdnMedia: '/v1/cdn/media/:mediaDir/:mediaId',
  uploads: '/v1/uploads',
  openapi: '/v1/openapi.json',
  healthz: '/healthz',
  readyz: '/readyz',
  metrics: '/metrics',
} as const;

/** The name of the current messages backup in its directory (spec 6.3 `backupName`). */
export const BACKUP_NAME = 'messageBackup';

/** Fills `:name` placeholders of a path with URL-encoded values. */
export function apiPath(template: string, params: Record<string, string> = {}): string {
  return template.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) throw new TypeError(`apiPath: missing parameter ${name}`);
    return encodeURIComponent(v);
  });
}
