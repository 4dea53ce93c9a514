/**
 * Error codes the coffer CLI itself throws or prints (code -> one-line description). Codes from the
 * packages it calls (@coffer/client, @coffer/crypto, @coffer/format, ...) pass through unchanged
 * and are listed under those packages.
 */
export const ERROR_CODES: Record<string, string> = {
  // Opening a backup file given on the command line (backup-input.ts; validate, inspect, export).
  COFFER_ERR_CLI_KEY_REQUIRED:
    'The file is an encrypted backup; --key (recovery key) and --aci are needed to open it.',
  COFFER_ERR_CLI_ACI: 'The --aci value is not a UUID.',
  COFFER_ERR_CLI_FS_TOKEN_REQUIRED:
    'The backup uses forward secrecy; its key needs the 32-byte token from SVR-B (--fs-token HEX).',
  COFFER_ERR_UNEXPECTED:
    'The command failed with an error that carries no Coffer code (a bug or an environment problem); the message says what happened.',
};
