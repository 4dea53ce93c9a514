// crypto-keys: recovery key, key derivation (spec 1, 2), XEdDSA, encodings
export { constantTimeEqual } from './constant-time.ts';
export {
  bytesToUuid,
  concatBytes,
  fromBase64,
  fromBase64Url,
  fromHex,
  toBase64,
  toBase64Url,
  toHex,
  utf8,
  uuidToBytes,
} from './encoding.ts';
export { CofferError, ERROR_CODES, hasErrorCode } from './errors.ts';
export { sha256 } from './hash.ts';
export {
  type Aci,
  type BackupIdKeyPair,
  clampPrivateKey,
  deriveBackupId,
  deriveBackupIdKeyPair,
  deriveBackupKey,
  deriveForwardSecrecyTokenKey,
  deriveLocalBackupMetadataKey,
  deriveMediaEncryptionKey,
  deriveMediaId,
  deriveMessageBackupKey,
  deriveMessageBackupKeyFromRecoveryKey,
  deriveSvrbPassword,
  deriveSvrKey,
  deriveThumbnailTransitKey,
  INFO as KEY_DERIVATION_INFO,
  type MacAndAesKeys,
  publicKeyFromPrivate,
  thumbnailAttachmentKeys,
} from './key-derivation.ts';
export { mediaName, thumbnailMediaName } from './media-name.ts';
export { type Rng, randomBytes } from './random.ts';
export {
  formatRecoveryKey,
  generateRecoveryKey,
  isValidRecoveryKey,
  parseRecoveryKey,
  RECOVERY_KEY_ALPHABET,
  RECOVERY_KEY_LENGTH,
} from './recovery-key.ts';
export { deriveSvrSubkeys } from './svr-key.ts';
export {
  isCanonicalXeddsaSignature,
  isSmallOrderPublicKey,
  xeddsaSign,
  xeddsaVerify,
} from './xeddsa.ts';
// end crypto-keys

// crypto-seal: sealed backup stream (spec 3), platform seam, media (spec 5)
export {
  type BackupSource,
  bytesSource,
  type FileSourceOptions,
  fileSource,
  sealedFileSource,
} from './backup-source.ts';
export { closeGzipWorkers } from './gzip-workers.ts';
export {
  type AttachmentSealResult,
  attachmentBlobSize,
  type OpenAttachmentOptions,
  openAttachment,
  type SealAttachmentOptions,
  type SealedAttachment,
  sealAttachment,
  sealAttachmentToBytes,
} from './media-attachment.ts';
export { incrementalMacChunkSize } from './media-incremental-mac.ts';
export { type MediaTierOptions, mediaTierSize, openMediaTier, sealMediaTier } from './media-tier.ts';
export { logPaddedSize } from './padding.ts';
export {
  type BackupLayout,
  detectBackupLayout,
  encodeSealedHeader,
  type ForwardSecrecyPair,
  parseMetadataPb,
  SEALED_MAGIC,
  type SealedHeader,
} from './sealed-header.ts';
export type { SealKey } from './sealed-keys.ts';
export {
  KEY_MISMATCH_MESSAGE,
  MIN_SEALED_BODY,
  type OpenBackupOptions,
  openBackup,
  readSealedHeader,
  type SealKeyInput,
} from './sealed-reader.ts';
export {
  DEFAULT_SEAL_LEVEL,
  type SealBackupOptions,
  type SealStats,
  sealBackup,
  sealBackupToBytes,
} from './sealed-writer.ts';
// end crypto-seal
