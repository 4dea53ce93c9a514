import { CofferError } from '@coffer/crypto';
import type { BackupInfo, Frame } from '../gen/Backup.ts';
import { collectUnknownFields } from '../unknown-fields.ts';
import { checkAccountData } from './account-data.ts';
import { checkItem, checkItemInChat, lastItem } from './chat-item.ts';
import { checkChatStyle } from './chat-style.ts';
import { idKey, KIND_CALL_LINK, KIND_DISTRIBUTION_LIST, kindName, kindOf } from './ids.ts';
import {
  checkAdHocCall,
  checkChatFolder,
  checkNotificationProfile,
  checkStickerPack,
} from './other-frames.ts';
import { assertPurpose, type ValidationPurpose } from './purpose.ts';
import { checkRecipient, DuplicateTracker } from './recipient.ts';
import { chatIdText, fail, RuleError, recipientIdText } from './rule-error.ts';
import { ValidationState } from './state.ts';
import { checkTimestamp } from './timestamp.ts';
import { frameHasUnknownFields, hasUnknownFields } from './unknown-fields.ts';

/** The one error code the validator throws; `details.rule` says which rule failed. */
export const BACKUP_INVALID = 'COFFER_ERR_BACKUP_INVALID';

/** Where a frame sits in the plaintext stream (from the frame reader). */
export interface FrameLocation {
  /** 0-based index among Frames (BackupInfo not counted). */
  index: number;
  /** Byte offset of the frame's length prefix in the plaintext stream. */
  offset?: number;
}

export interface ValidatorOptions {
  purpose: ValidationPurpose;
  /** Keep at most this many unknown-field warnings (the count is always exact). Default 100. */
  maxWarnings?: number;
}

/** What a successful validation saw. */
export interface ValidationSummary {
  purpose: ValidationPurpose;
  frames: number;
  framesByKind: Record<string, number>;
  recipients: number;
  chats: number;
  chatItems: number;
  attachments: number;
  /** Number of frames that carry fields this schema does not know (reported, not errors). */
  framesWithUnknownFields: number;
  /** "frame 12 (chatItem): chatItem.standardMessage: unknown field 99 (wire type 0)" ... */
  warnings: string[];
}

interface ChatInfo {
  recipientId: bigint;
  recipient: number;
}

const FRAME_KINDS = [
  'account',
  'recipient',
  'chat',
  'chatItem',
  'stickerPack',
  'adHocCall',
  'notificationProfile',
  'chatFolder',
] as const;

/**
 * Streaming validator with the rules of spec 3.5 and libsignal's message-backup validator.
 *
 * Stage 1, `addFrame`, checks each frame as it arrives against what came before (ids defined
 * before use, per-chat author rules, ...). Stage 2, `finish`, runs the whole-backup completion
 * checks (one AccountData, a Self recipient, no duplicate identities, chat folders). State is
 * sets of ids and small per-recipient/per-chat facts, so memory does not grow with chat items.
 *
 * The first broken rule throws `CofferError('COFFER_ERR_BACKUP_INVALID')` with
 * `details = { rule, reason, frameIndex, byteOffset, frameKind, chatId?, recipientId? }`;
 * `reason` follows libsignal's wording (e.g. "chat frame ChatId(2) error: PinOrder(5) already
 * appeared"). Once it has thrown, the validator must not be used again.
 */
export class BackupValidator {
  readonly #st: ValidationState;
  readonly #dups = new DuplicateTracker();
  readonly #chats = new Map<number | string, ChatInfo>();
  readonly #pinned = new Set<number>();
  readonly #stickerPacks = new Set<string>();
  readonly #maxWarnings: number;
  #hasInfo = false;
  #hasAccount = false;
  #folders = 0;
  #allFolders = 0;
  #frames = 0;
  readonly #byKind = new Map<string, number>();
  #chatItems = 0;
  #attachments = 0;
  #framesWithUnknown = 0;
  readonly #warnings: string[] = [];
  #failed = false;

  constructor(opts: ValidatorOptions) {
    assertPurpose(opts.purpose);
    this.#st = new ValidationState(opts.purpose);
    this.#maxWarnings = opts.maxWarnings ?? 100;
  }

  get purpose(): ValidationPurpose {
    return this.#st.purpose;
  }

  /** Unknown-field warnings so far (at most `maxWarnings`). */
  get warnings(): readonly string[] {
    return this.#warnings;
  }

  /** spec 3.5 "BackupInfo": the media root key is 32 bytes; the backup time is a sane timestamp. */
  addInfo(info: BackupInfo): void {
    if (this.#hasInfo) throw new TypeError('addInfo called twice');
    this.#hasInfo = true;
    try {
      if (info.mediaRootBackupKey.length !== 32) {
        fail(
          'backup-info-media-root-key',
          `BackupInfo error: invalid mediaRootBackupKey (expected 32 bytes, got ${info.mediaRootBackupKey.length})`,
        );
      }
      try {
        checkTimestamp(info.backupTimeMs, 'BackupInfo.backupTimeMs');
      } catch (e) {
        if (e instanceof RuleError) e.text = `BackupInfo error: ${e.text}`;
        throw e;
      }
      this.#st.backupTimeMs = info.backupTimeMs;
      if (hasUnknownFields(info)) this.#warnUnknown(info, 'BackupInfo', -1);
    } catch (e) {
      throw this.#wrap(e, undefined, 'backupInfo');
    }
  }

  /** Checks one frame (stage 1). Throws CofferError COFFER_ERR_BACKUP_INVALID on the first broken rule. */
  addFrame(frame: Frame, location?: FrameLocation): void {
    if (!this.#hasInfo) throw new TypeError('addInfo must be called before addFrame');
    if (this.#failed) throw new TypeError('the validator already failed; start a new one');
    const item = frame.item;
    const index = location?.index ?? this.#frames;
    this.#frames++;
    try {
      if (item === undefined) {
        fail(
          'empty-frame',
          `Frame.item is a oneof but has no value with ${hasUnknownFields(frame) ? 'unknown fields' : 'no unknown fields'}`,
        );
      }
      const kind = item.$case;
      // chat items are counted by #chatItem (no map update on the hot path)
      if (kind !== 'chatItem') this.#byKind.set(kind, (this.#byKind.get(kind) ?? 0) + 1);
      switch (kind) {
        case 'chatItem':
          this.#chatItem(item.chatItem);
          break;
        case 'recipient':
          this.#recipient(item.recipient);
          break;
        case 'chat':
          this.#chat(item.chat);
          break;
        case 'account':
          if (this.#hasAccount) fail('multiple-account-data', 'multiple AccountData frames found');
          try {
            checkAccountData(item.account, this.#st);
          } catch (e) {
            if (e instanceof RuleError) e.text = `AccountData error: ${e.text}`;
            throw e;
          }
          this.#hasAccount = true;
          break;
        case 'stickerPack':
          checkStickerPack(item.stickerPack, this.#stickerPacks);
          break;
        case 'adHocCall': {
          const c = item.adHocCall;
          try {
            checkAdHocCall(c, this.#st);
          } catch (e) {
            if (e instanceof RuleError)
              e.text = `ad-hoc call (recipientId ${c.recipientId}, callId ${c.callId}) error: ${e.text}`;
            throw e;
          }
          break;
        }
        case 'notificationProfile':
          checkNotificationProfile(item.notificationProfile, this.#st);
          break;
        case 'chatFolder':
          if (checkChatFolder(item.chatFolder, this.#st)) this.#allFolders++;
          this.#folders++;
          break;
      }
    } catch (e) {
      throw this.#wrap(
        e,
        { index, ...(location?.offset === undefined ? {} : { offset: location.offset }) },
        item?.$case,
        frame,
      );
    }
    if (frameHasUnknownFields(frame)) this.#warnUnknown(frame, item.$case, index);
  }

  #recipient(r: import('../gen/Backup.ts').Recipient): void {
    try {
      if (r.id === 0n) fail('recipient-zero-id', '0 is not a valid recipient ID');
      const info = checkRecipient(r, this.#st, this.#dups);
      const key = idKey(r.id);
      if (this.#st.recipients.has(key)) fail('recipient-duplicate-id', 'multiple frames with the same ID');
      this.#st.recipients.set(key, info);
    } catch (e) {
      if (e instanceof RuleError) e.text = `recipient ${recipientIdText(r.id)} error: ${e.text}`;
      throw e;
    }
  }

  #chat(c: import('../gen/Backup.ts').Chat): void {
    try {
      if (c.id === 0n) fail('chat-zero-id', '0 is not a valid chat ID');
      const info = this.#st.recipient(c.recipientId);
      if (info === undefined) fail('chat-no-recipient', `no record for ${recipientIdText(c.recipientId)}`);
      const k = kindOf(info);
      if (k === KIND_DISTRIBUTION_LIST || k === KIND_CALL_LINK) {
        fail(
          'chat-invalid-recipient',
          `cannot have a chat with recipient ${recipientIdText(c.recipientId)}, a ${kindName(info)}`,
        );
      }
      if (c.pinnedOrder !== undefined && this.#pinned.has(c.pinnedOrder)) {
        fail('chat-duplicate-pinned-order', `PinOrder(${c.pinnedOrder}) already appeared`);
      }
      if (c.style !== undefined) {
        try {
          checkChatStyle(c.style, this.#st.customColorIds);
        } catch (e) {
          if (e instanceof RuleError) e.text = `style error: ${e.text}`;
          throw e;
        }
      }
      // muteUntilMs >= i64::MAX means "forever"; below that it is a timestamp
      if (c.muteUntilMs !== undefined && c.muteUntilMs < 0x7fff_ffff_ffff_ffffn)
        checkTimestamp(c.muteUntilMs, 'Chat.muteUntilMs');
      if (c.expirationTimerMs !== undefined && c.expireTimerVersion === 0) {
        fail(
          'chat-missing-expire-timer-version',
          `chat with ${recipientIdText(c.recipientId)} has an expirationTimerMs but no expireTimerVersion`,
        );
      }
      const key = idKey(c.id);
      if (this.#chats.has(key)) fail('chat-duplicate-id', 'multiple records with the same ID');
      this.#chats.set(key, { recipientId: c.recipientId, recipient: info });
      if (c.pinnedOrder !== undefined) this.#pinned.add(c.pinnedOrder);
    } catch (e) {
      if (e instanceof RuleError) e.text = `chat frame ${chatIdText(c.id)} error: ${e.text}`;
      throw e;
    }
  }

  #chatItem(ci: import('../gen/Backup.ts').ChatItem): void {
    try {
      checkItem(ci, this.#st);
      const chat = this.#chats.get(idKey(ci.chatId));
      if (chat === undefined) fail('chat-item-no-chat', 'no record for chat');
      checkItemInChat(ci.authorId, chat.recipientId, chat.recipient);
    } catch (e) {
      if (e instanceof RuleError)
        e.text = `chat frame ${chatIdText(ci.chatId)} error: chat item ${ci.dateSent}: ${e.text}`;
      throw e;
    }
    this.#chatItems++;
    this.#attachments += lastItem.attachments;
  }

  #warnUnknown(msg: object, kind: string, index: number): void {
    this.#framesWithUnknown++;
    if (this.#warnings.length >= this.#maxWarnings) return;
    const where = index < 0 ? 'BackupInfo' : `frame ${index} (${kind})`;
    for (const u of collectUnknownFields(msg)) {
      if (this.#warnings.length >= this.#maxWarnings) break;
      this.#warnings.push(
        `${where}: ${u.path || '(top level)'}: unknown field ${u.fieldNumber} (wire type ${u.wireType})`,
      );
    }
  }

  #wrap(
    e: unknown,
    loc: { index: number; offset?: number } | undefined,
    kind: string | undefined,
    frame?: Frame,
  ): unknown {
    if (!(e instanceof RuleError)) return e;
    this.#failed = true;
    const details: Record<string, unknown> = { rule: e.rule, reason: e.text };
    if (loc !== undefined) {
      details.frameIndex = loc.index;
      if (loc.offset !== undefined) details.byteOffset = loc.offset;
    }
    if (kind !== undefined) details.frameKind = kind;
    const it = frame?.item;
    if (it?.$case === 'chatItem') details.chatId = it.chatItem.chatId.toString();
    else if (it?.$case === 'chat') details.chatId = it.chat.id.toString();
    else if (it?.$case === 'recipient') details.recipientId = it.recipient.id.toString();
    const where =
      loc === undefined
        ? 'in BackupInfo'
        : `at frame ${loc.index}${loc.offset === undefined ? '' : ` (byte ${loc.offset})`}`;
    return new CofferError(
      BACKUP_INVALID,
      `The backup is not valid ${where}: ${e.text}. It cannot be restored as it is.`,
      {
        details,
      },
    );
  }

  /** Whole-backup completion checks (stage 2). Throws like addFrame; returns the summary. */
  finish(): ValidationSummary {
    if (!this.#hasInfo) throw new TypeError('addInfo must be called before finish');
    if (this.#failed) throw new TypeError('the validator already failed; start a new one');
    try {
      if (!this.#hasAccount) fail('missing-account-data', 'no AccountData frames found');
      if (this.#folders > 0) {
        if (this.#allFolders === 0) fail('missing-all-chat-folder', 'no ALL ChatFolder found');
        if (this.#allFolders > 1) fail('duplicate-all-chat-folder', 'multiple ALL ChatFolders found');
      }
      const dup = this.#dups.first;
      if (dup !== undefined) fail(dup.rule, dup.text);
      if (this.#dups.selfId === undefined) fail('missing-self-recipient', 'no Self recipient found');
    } catch (e) {
      if (e instanceof RuleError) {
        this.#failed = true;
        throw new CofferError(
          BACKUP_INVALID,
          `The backup is not valid: ${e.text}. It cannot be restored as it is.`,
          {
            details: { rule: e.rule, reason: e.text, stage: 'completion' },
          },
        );
      }
      throw e;
    }
    const framesByKind: Record<string, number> = {};
    for (const k of FRAME_KINDS)
      framesByKind[k] = k === 'chatItem' ? this.#chatItems : (this.#byKind.get(k) ?? 0);
    return {
      purpose: this.#st.purpose,
      frames: this.#frames,
      framesByKind,
      recipients: this.#st.recipients.size,
      chats: this.#chats.size,
      chatItems: this.#chatItems,
      attachments: this.#attachments,
      framesWithUnknownFields: this.#framesWithUnknown,
      warnings: [...this.#warnings],
    };
  }
}
