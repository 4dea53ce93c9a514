/**
 * The one error type every Coffer package throws for expected failures.
 *
 * Match errors by `code`, never by `instanceof` (several copies of a package may be loaded, and
 * errors cross process and network boundaries as plain `{code, message}`). Codes are stable:
 * once released a code keeps its meaning. Each package lists its codes, with a one-line
 * description, in an exported `ERROR_CODES` record; docs/errors.md is generated from those lists
 * and a test keeps the two identical.
 */
export class CofferError extends Error {
  /** Stable machine-readable code, e.g. `COFFER_ERR_BAD_MAC`. */
  readonly code: string;
  /** Extra facts that help a user or a log reader (never secrets or plaintext). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CofferError';
    this.code = code;
    this.details = options?.details;
  }
}

/** True when `err` carries the given Coffer error code (works across package copies). */
export function hasErrorCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
