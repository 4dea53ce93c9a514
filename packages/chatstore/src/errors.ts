/** Error codes thrown by @coffer/chatstore (code -> one-line description). */
export const ERROR_CODES: Record<string, string> = {
  COFFER_ERR_CHATSTORE_IMPORT_CLOSED: 'An import session was used after it was committed or aborted.',
  COFFER_ERR_CHATSTORE_BAD_FRAME: 'A backup frame refers to something the chat store cannot import.',
  COFFER_ERR_CHATSTORE_MEDIA_MISMATCH: 'Media bytes do not match the plaintext hash they were stored under.',
  COFFER_ERR_CHATSTORE_MEDIA_MISSING: 'A media file the history refers to is not on this device.',
  COFFER_ERR_CHATSTORE_NO_ACCOUNT: 'The chat store has no account data yet, so it cannot be exported.',
};
