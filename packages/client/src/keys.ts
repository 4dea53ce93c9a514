import {
  deriveBackupId,
  deriveBackupIdKeyPair,
  deriveBackupKey,
  deriveMessageBackupKey,
  type MacAndAesKeys,
} from '@coffer/crypto';

/** Everything derived from the recovery key and the account's ACI (spec 2.1). Never leaves the device. */
export interface BackupKeys {
  backupKey: Uint8Array;
  backupId: Uint8Array;
  /** Signs anonymous archive requests (spec 6.1). */
  backupIdKeyPair: { privateKey: Uint8Array; publicKey: Uint8Array };
  /** Seals the messages backup (legacy layout: no forward-secrecy token, spec 3.1). */
  messageKey: MacAndAesKeys;
}

export function deriveBackupKeys(recoveryKey: string, aci: string): BackupKeys {
  const backupKey = deriveBackupKey(recoveryKey);
  const backupId = deriveBackupId(backupKey, aci);
  return {
    backupKey,
    backupId,
    backupIdKeyPair: deriveBackupIdKeyPair(backupKey, aci),
    messageKey: deriveMessageBackupKey(backupKey, backupId),
  };
}

/** The media tier's own backup id and signing key come from the media root key (spec 2.1). */
export function deriveMediaBackupKeys(mediaRootKey: Uint8Array, aci: string) {
  return {
    backupId: deriveBackupId(mediaRootKey, aci),
    backupIdKeyPair: deriveBackupIdKeyPair(mediaRootKey, aci),
  };
}
