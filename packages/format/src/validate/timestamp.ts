import { fail } from './rule-error.ts';

/** spec 3.5 / libsignal time.rs: the largest timestamp accepted (the limit of JavaScript's Date). */
export const MAX_SAFE_TIMESTAMP_MS = 8_640_000_000_000_000n;
/** Values outside 2000-01-01 .. 2100-01-01 are only reported, never rejected. */
const EXPECTED_START_MS = 946_684_800_000n;
const EXPECTED_END_MS = 4_102_444_800_000n;

/** Rejects a timestamp beyond the safe range (libsignal `TimestampError`). */
export function checkTimestamp(value: bigint, context: string): void {
  if (value > MAX_SAFE_TIMESTAMP_MS) {
    fail('timestamp-too-far', `Timestamp ${value} for '${context}' was too far in the future`);
  }
}

/** Unusual but allowed (reported as a warning by the caller when it wants to). */
export function isUnusualTimestamp(value: bigint): boolean {
  return value < EXPECTED_START_MS || value > EXPECTED_END_MS;
}
