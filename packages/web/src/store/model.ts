/**
 * The demo messenger's own data model, kept close to Backup.proto (spec section 4) so that the
 * mapping to and from backup frames (frames.ts) stays one-to-one for everything the app stores.
 */

export interface AccountRecord {
  /** Display name of the person using this device. */
  profileName: string;
  /** Profile key (32 bytes), carried by AccountData in a backup. */
  profileKey: Uint8Array;
  username?: string;
}

export type RecipientKind = 'self' | 'contact' | 'group' | 'releaseNotes';

export interface RecipientRecord {
  id: number;
  kind: RecipientKind;
  /** Contact's profile name, or the group title. */
  name: string;
  /** Contact service id (UUID) or group master key (hex, 32 bytes). */
  aci?: string;
  e164?: string;
  groupMasterKey?: Uint8Array;
  /** Group members (recipient ids), for groups. */
  members?: number[];
}

export interface ChatRecord {
  id: number;
  recipientId: number;
  pinnedOrder?: number;
  archived?: boolean;
}

export interface AttachmentRecord {
  /** Key of the bytes in the media store (hex of the plaintext SHA-256). */
  mediaId: string;
  contentType: string;
  size: number;
  width?: number;
  height?: number;
  fileName?: string;
  caption?: string;
  /** SHA-256 of the plaintext (32 bytes): with `keys` it names the file in the media tier (spec 5.2). */
  plaintextHash: Uint8Array;
  /** The attachment's own keys (64 bytes: AES || HMAC), spec 5.1. */
  keys: Uint8Array;
}

export interface ReactionRecord {
  authorId: number;
  emoji: string;
  sentTimestamp: number;
}

export interface MessageRecord {
  /** Local row id (IndexedDB auto-increment); not part of a backup. */
  id?: number;
  chatId: number;
  authorId: number;
  dateSent: number;
  direction: 'incoming' | 'outgoing';
  text?: string;
  attachments: AttachmentRecord[];
  reactions?: ReactionRecord[];
  /** Incoming: when it arrived and whether it was read. Outgoing: delivered/read by the recipient. */
  dateReceived?: number;
  read?: boolean;
}

export interface MediaRecord {
  id: string;
  contentType: string;
  size: number;
  /** Present once the bytes are on this device; absent while a restore still fetches them. */
  blob?: Blob;
  /** Kept to re-create the tier name when the bytes are missing (spec 5.2). */
  plaintextHash: Uint8Array;
  keys: Uint8Array;
  /** The newest message date that refers to this file: restore fetches most recent first. */
  lastUsed: number;
}

export interface ChatSummary {
  chat: ChatRecord;
  recipient: RecipientRecord;
  last: MessageRecord | undefined;
  count: number;
}
