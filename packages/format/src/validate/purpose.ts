/**
 * Why a backup is being judged (spec 3.5 "Validation purposes"). The purpose changes the
 * disappearing-message and view-once rules only.
 */
export type ValidationPurpose = 'remote-backup' | 'device-transfer' | 'takeout-export';

export const VALIDATION_PURPOSES: readonly ValidationPurpose[] = [
  'remote-backup',
  'device-transfer',
  'takeout-export',
];

/** libsignal's display name of a purpose (quoted in its messages): the same spelling as ours. */
export function purposeLabel(p: ValidationPurpose): string {
  return p;
}

export function assertPurpose(p: unknown): asserts p is ValidationPurpose {
  if (p !== 'remote-backup' && p !== 'device-transfer' && p !== 'takeout-export') {
    throw new TypeError(`purpose must be one of ${VALIDATION_PURPOSES.join(', ')}`);
  }
}
