import type { ColumnType } from 'kysely';

/**
 * Metadata tables (Kysely types). Portable across SQLite and PostgreSQL: text, integer and bigint
 * columns only, times in ms since epoch. PostgreSQL returns bigint as a string, so code reads numbers
 * through `num()`.
 *
 * Privacy rule (ARCHITECTURE "Anonymity"): no table holds an account id next to a backup id. Accounts,
 * devices and credential issuance counts know the ACI; backups, versions, uploads and media know only
 * SHA-256(backupId)[0..16] (hex), as Signal's BackupsDb does (spec 6.1).
 */
export interface SettingsTable {
  name: string;
  value: string;
}
export interface AccountsTable {
  aci: string;
  identifier_hash: string;
  level: number;
  created_at: number | string;
}
export interface DevicesTable {
  device_id: string;
  aci: string;
  secret_hash: string;
  created_at: number | string;
}
export interface VerificationSessionsTable {
  session_id: string;
  identifier_hash: string;
  code_hash: string;
  state: 'pending' | 'verified' | 'locked' | 'used';
  attempts: number;
  created_at: number | string;
  expires_at: number | string;
}
export interface RateLimitsTable {
  bucket: string;
  window_start: number | string;
  count: number;
}
export interface CredentialKeysTable {
  redemption_time: number | string;
  level: number;
  type: number;
  private_key: string;
  public_key: string;
  created_at: number | string;
}
export interface CredentialIssuanceTable {
  aci: string;
  day: number | string;
  count: number;
}
export interface SeenSignaturesTable {
  signature_hash: string;
  expires_at: number | string;
}
export interface BackupsTable {
  backup_id_hash: string;
  public_key: string;
  backup_dir: string;
  media_dir: string;
  current_version_id: string | null;
  last_refresh: number | string;
  last_media_refresh: number | string;
  created_at: number | string;
}
export interface BackupVersionsTable {
  version_id: string;
  backup_id_hash: string;
  blob_key: string;
  /** Per-backup commit order (1, 2, ...): versions sort by it, not by clock time. */
  seq: ColumnType<number, number | undefined, number>;
  size: number | string;
  created_at: number | string;
}
export interface UploadsTable {
  upload_id: string;
  backup_id_hash: string;
  kind: 'messages' | 'media';
  max_length: number | string;
  state: 'issued' | 'created' | 'complete' | 'committed';
  size: number | string | null;
  created_at: number | string;
  expires_at: number | string;
}
export interface MediaTable {
  backup_id_hash: string;
  media_id: string;
  object_length: number | string;
  created_at: number | string;
}

export interface Database {
  settings: SettingsTable;
  accounts: AccountsTable;
  devices: DevicesTable;
  verification_sessions: VerificationSessionsTable;
  rate_limits: RateLimitsTable;
  credential_keys: CredentialKeysTable;
  credential_issuance: CredentialIssuanceTable;
  seen_signatures: SeenSignaturesTable;
  backups: BackupsTable;
  backup_versions: BackupVersionsTable;
  uploads: UploadsTable;
  media: MediaTable;
}

/** Reads a bigint column portably (PostgreSQL's pg returns int8 as a string). */
export function num(v: number | string | bigint | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : Number(v);
}
