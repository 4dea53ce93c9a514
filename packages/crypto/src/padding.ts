/**
 * Bucket padding shared by attachments (spec 5.1) and the legacy sealed-backup padding
 * (spec 3.3): `max(541, floor(1.05 ^ ceil(log_1.05(n))))`.
 *
 * Computed exactly as libsignal's `padded_length` and Signal Desktop's `logPadSize` do (natural
 * logarithms divided, `Math.pow`), so padded sizes, and with them the blob sizes the server
 * sees, are byte-for-byte the ones Signal clients produce. The result is never below `n`: the
 * floating-point form could in principle round just under an exact power of 1.05, and a negative
 * padding length would be a bug rather than a size leak.
 */
export function logPaddedSize(n: number): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${n}`);
  const exp = Math.ceil(Math.log(n) / Math.log(1.05));
  return Math.max(541, Math.floor(1.05 ** exp), n);
}
