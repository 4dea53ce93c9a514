/**
 * Signal username syntax ("nickname.discriminator"), as checked by libsignal's usernames crate
 * when a backup is validated. Only the syntax; nothing is looked up.
 */
export function isValidUsername(s: string): boolean {
  const dot = s.lastIndexOf('.');
  if (dot < 0) return false;
  const nickname = s.slice(0, dot);
  const disc = s.slice(dot + 1);
  if (nickname.length === 0) return false;
  const c0 = nickname.charCodeAt(0);
  if (c0 >= 48 && c0 <= 57) return false;
  // discriminator: digits only, fits in u64, non-zero, at least 2 digits, no leading zero beyond 2
  if (disc.length === 0 || !/^[0-9]+$/.test(disc)) return false;
  if (disc.length > 20 || BigInt(disc) > 0xffff_ffff_ffff_ffffn) return false;
  if (BigInt(disc) === 0n) return false;
  if (disc.length === 1) return false;
  if (disc.length > 2 && disc.charCodeAt(0) === 48) return false;
  // nickname characters: [a-z0-9_] after ASCII lower-casing, at most 48 of them
  if (nickname.length > 48) return false;
  return /^[A-Za-z0-9_]+$/.test(nickname);
}
