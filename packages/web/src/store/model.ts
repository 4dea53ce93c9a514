import type {
  AccountModel,
  AttachmentModel,
  ChatModel,
  MessageModel,
  RecipientModel,
  StickerPackModel,
} from '@coffer/chatstore/browser';

/**
 * The web app keeps the reference chat store's model (@coffer/chatstore), so the mapping to and
 * from Backup frames is the same lossless one the Node store uses.
 */
export type { AccountModel, AttachmentModel, ChatModel, MessageModel, RecipientModel, StickerPackModel };

/** A message row: the model plus IndexedDB's auto-increment id (global arrival order). */
export interface StoredMessage extends MessageModel {
  id?: number;
}

/** One media file, keyed by the hex SHA-256 of its plaintext (spec 5.1 plaintextHash). */
export interface MediaRecord {
  id: string;
  plaintextHash: Uint8Array;
  /** 64-byte attachment keys (spec 5.1), with plaintextHash they name the file in the media tier. */
  key: Uint8Array;
  size: number;
  contentType: string | null;
  /** dateSent of the newest message that uses it: a restore fetches most recent first. */
  lastUsedAt: number;
  /** Absent while a restore is still fetching the file. */
  blob?: Blob;
  thumbnail?: Blob;
}

export interface ChatSummary {
  chat: ChatModel;
  recipient: RecipientModel;
  last: StoredMessage | undefined;
  count: number;
}

export function displayName(r: RecipientModel | undefined): string {
  if (!r) return 'Unknown';
  if (r.kind === 'self') return 'Note to Self';
  if (r.kind === 'releaseNotes') return 'Release notes';
  if (r.kind === 'group') return r.title || 'Group';
  const name = [r.givenName, r.familyName].filter(Boolean).join(' ');
  return name || r.username || (r.e164 ? `+${r.e164}` : 'Contact');
}
