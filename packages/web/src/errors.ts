/**
 * Error codes the web app itself produces (code -> one-line description). Everything the SDK
 * throws keeps its @coffer/client / @coffer/crypto code and is listed under those packages.
 */
export const ERROR_CODES: Record<string, string> = {
  COFFER_ERR_UNEXPECTED:
    'Something failed without a Coffer error code (a browser or app bug); the message says what happened.',
};
