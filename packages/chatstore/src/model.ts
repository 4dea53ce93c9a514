/**
 * The chat store's own model: what the reference database keeps, independent of the wire format.
 * `frames.ts` maps it to and from Backup frames; the generator and the SQLite store speak it.
 * Timestamps are milliseconds since the epoch (numbers: they fit in 2^53); `muteUntilMs` can be
 * INT64_MAX ("always muted", spec Backup.proto Chat), so it is a bigint.
 */

export interface AccountModel {
  profileKey: Uint8Array;
  username: string | null;
  givenName: string;
  familyName: string;
  /** Settings the reference store keeps (Backup.proto AccountData.AccountSettings). */
  settings: AccountSettingsModel;
}

export interface AccountSettingsModel {
  readReceipts: boolean;
  sealedSenderIndicators: boolean;
  typingIndicators: boolean;
  linkPreviews: boolean;
  universalExpireTimerSeconds: number;
  preferredReactionEmoji: string[];
  /** AccountData.PhoneNumberSharingMode (1 EVERYBODY, 2 NOBODY). */
  phoneNumberSharingMode: number;
  /** AccountData.AppTheme (1 SYSTEM, 2 LIGHT, 3 DARK). */
  appTheme: number;
  /** AccountData.SentMediaQuality (1 STANDARD, 2 HIGH). */
  defaultSentMediaQuality: number;
  /** AccountData.CallsUseLessDataSetting (1..3). */
  callsUseLessDataSetting: number;
  /** AutoDownloadOption for images, audio, video, documents (1..3 each). */
  autoDownload: [number, number, number, number];
}

export type RecipientKind = 'self' | 'contact' | 'group' | 'releaseNotes';

export interface GroupMemberModel {
  userId: Uint8Array;
  /** Group.Member.Role (1 DEFAULT, 2 ADMINISTRATOR). */
  role: number;
  joinedAtVersion: number;
}

export interface RecipientModel {
  id: number;
  kind: RecipientKind;
  // contact
  aci: Uint8Array | null;
  pni: Uint8Array | null;
  e164: number | null;
  username: string | null;
  profileKey: Uint8Array | null;
  givenName: string | null;
  familyName: string | null;
  blocked: boolean;
  profileSharing: boolean;
  // group
  masterKey: Uint8Array | null;
  title: string | null;
  groupVersion: number | null;
  members: GroupMemberModel[];
}

export interface ChatModel {
  id: number;
  recipientId: number;
  archived: boolean;
  pinnedOrder: number | null;
  muteUntilMs: bigint | null;
  markedUnread: boolean;
  expirationTimerMs: number | null;
}

export type AttachmentRole = 'attachment' | 'sticker';

export interface AttachmentModel {
  role: AttachmentRole;
  /** SHA-256 of the plaintext; also the media file's name in the store (spec 5.1 plaintextHash). */
  plaintextHash: Uint8Array;
  /** 64-byte attachment keys (aes || mac), spec 5.1 LocatorInfo.key. */
  key: Uint8Array;
  size: number;
  contentType: string | null;
  fileName: string | null;
  width: number | null;
  height: number | null;
  caption: string | null;
  blurHash: string | null;
  incrementalMac: Uint8Array | null;
  incrementalMacChunkSize: number | null;
  transitCdnKey: string | null;
  transitCdnNumber: number | null;
  transitTierUploadTimestamp: number | null;
  mediaTierCdnNumber: number | null;
  /** MessageAttachment.Flag (0 NONE, 1 VOICE_MESSAGE, 2 BORDERLESS, 3 GIF). */
  flag: number;
  wasDownloaded: boolean;
  clientUuid: Uint8Array | null;
}

export interface ReactionModel {
  emoji: string;
  authorId: number;
  sentTimestamp: number;
  sortOrder: number;
}

export interface RevisionModel {
  dateSent: number;
  dateReceived: number;
  body: string;
}

export type MessageKind = 'standard' | 'sticker' | 'deleted';

export interface QuoteModel {
  targetSentTimestamp: number | null;
  authorId: number;
  body: string | null;
  /** Quote.Type (1 NORMAL ...). */
  type: number;
}

export interface StickerModel {
  packId: Uint8Array;
  packKey: Uint8Array;
  stickerId: number;
  emoji: string | null;
}

export interface MessageModel {
  chatId: number;
  authorId: number;
  dateSent: number;
  kind: MessageKind;
  outgoing: boolean;
  dateReceived: number;
  dateServerSent: number | null;
  read: boolean;
  sealedSender: boolean;
  body: string | null;
  quote: QuoteModel | null;
  sticker: StickerModel | null;
  reactions: ReactionModel[];
  /** Earlier versions of an edited message, oldest first (Backup.proto ChatItem.revisions). */
  revisions: RevisionModel[];
  attachments: AttachmentModel[];
}

export interface StickerPackModel {
  packId: Uint8Array;
  packKey: Uint8Array;
}

/** Counts of what a store holds; two equal histories have equal counts. */
export interface StoreCounts {
  recipients: number;
  chats: number;
  messages: number;
  reactions: number;
  revisions: number;
  attachments: number;
  stickerPacks: number;
  mediaFiles: number;
}

/** One media file the history refers to (deduplicated by plaintext hash). */
export interface MediaRef {
  plaintextHash: Uint8Array;
  key: Uint8Array;
  size: number;
  contentType: string | null;
  /** dateSent of the newest message that refers to it (restore goes most recent first). */
  lastUsedAt: number;
}
