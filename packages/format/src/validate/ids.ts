/**
 * Compact per-recipient facts kept while streaming (spec 3.5 "IDs"): a recipient is one small
 * integer, so a million-item backup needs memory only for its recipients and chats, never for items.
 */

export const KIND_CONTACT = 0;
export const KIND_GROUP = 1;
export const KIND_DISTRIBUTION_LIST = 2;
export const KIND_SELF = 3;
export const KIND_RELEASE_NOTES = 4;
export const KIND_CALL_LINK = 5;

export const FLAG_ACI = 8;
export const FLAG_E164 = 16;
export const FLAG_PNI = 32;

/** libsignal's `DestinationKind` debug names, used in messages. */
export const KIND_NAMES = [
  'Contact',
  'Group',
  'DistributionList',
  'Self_',
  'ReleaseNotes',
  'CallLink',
] as const;

export const kindOf = (info: number): number => info & 7;
export const kindName = (info: number): string => KIND_NAMES[info & 7] ?? 'Unknown';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Map key for a uint64 id: a number when exact (the common case), else its decimal string. */
export function idKey(id: bigint): number | string {
  return id <= MAX_SAFE ? Number(id) : id.toString();
}
