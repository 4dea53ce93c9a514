/** Error codes thrown by @coffer/client (code -> one-line description). */
export const ERROR_CODES: Record<string, string> = {
  COFFER_ERR_WRONG_RECOVERY_KEY:
    'The recovery key does not open this backup (wrong key, or the file is damaged); check the key and try again.',
  COFFER_ERR_NO_BACKUP_FOUND: 'There is no backup for this account and recovery key on the server.',
  COFFER_ERR_BACKUP_CORRUPTED:
    'The backup is damaged or invalid (a stored file that fails its MAC with the right key, or bad contents); nothing was imported.',
  COFFER_ERR_BACKUP_ROLLED_BACK:
    'The server serves an older backup than the last one this device uploaded (a rollback); back up again.',
  COFFER_ERR_QUOTA_FULL: 'The server refused the upload because the backup storage quota is full.',
  COFFER_ERR_NETWORK: 'The server could not be reached; the operation will be retried.',
  COFFER_ERR_SERVER_TOO_OLD: 'The server does not support this version of the Coffer API; update the server.',
  COFFER_ERR_SERVER: 'The server answered with an unexpected error.',
  COFFER_ERR_SERVER_UNAVAILABLE:
    "The server's database or storage is unavailable (details.serverCode says which); it will be retried.",
  COFFER_ERR_SERVER_STORAGE_FULL:
    'The server is out of storage space; earlier backups are safe. It will be retried once space is freed.',
  COFFER_ERR_NOT_ENABLED: 'Backups are not turned on for this device.',
  COFFER_ERR_ALREADY_ENABLED: 'Backups are already turned on for this device.',
  COFFER_ERR_NOT_REGISTERED: 'This device is not registered with a Coffer server yet.',
  COFFER_ERR_RECOVERY_KEY_NOT_CONFIRMED: 'The typed recovery key does not match the one shown.',
  COFFER_ERR_CANCELLED: 'The operation was cancelled.',
  COFFER_ERR_KEYSTORE_LOCKED:
    'The key store is protected by a passphrase and the passphrase is missing or wrong.',
  COFFER_ERR_KEYSTORE_CORRUPT: 'The key store file could not be read.',
};
