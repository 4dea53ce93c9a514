import { ERROR_CODES as API_ERROR_CODES } from '@coffer/protocol';

/** Codes the server throws: the API codes of @coffer/protocol plus operator-facing ones. */
export const ERROR_CODES: Record<string, string> = {
  ...API_ERROR_CODES,
  COFFER_ERR_CONFIG: 'the server configuration is invalid (see docs/operating.md)',
  COFFER_ERR_BLOB_STORE_UNAVAILABLE:
    'the blob store (S3 or files) failed or could not be reached, even after retries; retry later',
  COFFER_ERR_DATA_DIR_LOCKED: 'another coffer server process is using this data folder',
  COFFER_ERR_ACCOUNT_NOT_FOUND: 'no account with this ACI (admin command)',
};
