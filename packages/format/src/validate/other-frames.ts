import type { AdHocCall, ChatFolder, NotificationProfile, StickerPack } from '../gen/Backup.ts';
import { KIND_CALL_LINK, KIND_CONTACT, KIND_GROUP, kindName, kindOf } from './ids.ts';
import { fail, recipientIdText } from './rule-error.ts';
import type { ValidationState } from './state.ts';
import { checkTimestamp } from './timestamp.ts';

// libsignal backup.rs (sticker packs), call.rs (AdHocCall), notification_profile.rs,
// chat_folder.rs. Messages are complete unless noted.

const packIdText = (id: Uint8Array): string => `PackId([${Array.from(id).join(', ')}])`;

/** Returns the pack id as a map key. */
export function checkStickerPack(p: StickerPack, seen: Set<string>): void {
  if (p.packId.length !== 16) fail('sticker-pack-invalid-id', 'pack ID is invalid');
  if (p.packKey.length !== 32)
    fail('sticker-pack-invalid-key', `for pack ${packIdText(p.packId)}: key is invalid`);
  const key = String.fromCharCode.apply(null, p.packId as unknown as number[]);
  if (seen.has(key))
    fail('sticker-pack-duplicate-id', `multiple sticker packs for ID ${packIdText(p.packId)}`);
  seen.add(key);
}

/** Relative to "ad-hoc call (recipientId R, callId C) error: ". */
export function checkAdHocCall(c: AdHocCall, st: ValidationState): void {
  const info = st.recipient(c.recipientId);
  if (info === undefined)
    fail('ad-hoc-call-no-recipient', `no record for ad-hoc ${recipientIdText(c.recipientId)}`);
  if (kindOf(info) !== KIND_CALL_LINK) {
    fail(
      'ad-hoc-call-invalid-recipient',
      `ad-hoc recipient ${recipientIdText(c.recipientId)} is not a call link`,
    );
  }
  if (c.state !== 1) fail('call-unknown-state', 'call state is UNKNOWN_STATE');
  checkTimestamp(c.callTimestamp, 'AdHocCall.startedCallTimestamp');
}

const DAY_NAMES = ['', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];

export function checkNotificationProfile(p: NotificationProfile, st: ValidationState): void {
  if (p.name === '') fail('notification-profile-missing-name', 'missing name');
  if (p.emoji !== undefined && p.emoji === '')
    fail('notification-profile-empty-emoji', 'emoji is present but empty');
  if (p.color >>> 24 !== 0xff) {
    const hex = (p.color >>> 0).toString(16).toUpperCase().padStart(8, '0');
    fail('notification-profile-color', `color was not opaque (ARGB 0x${hex})`);
  }
  checkTimestamp(p.createdAtMs, 'NotificationProfile.createdAtMs');
  const seen = new Set<bigint>();
  for (const id of p.allowedMembers) {
    if (seen.has(id))
      fail('notification-profile-duplicate-member', `member ${recipientIdText(id)} appears multiple times`);
    seen.add(id);
    const info = st.recipient(id);
    if (info === undefined)
      fail('notification-profile-unknown-member', `member ${recipientIdText(id)} is unknown`);
    const k = kindOf(info);
    if (k !== KIND_CONTACT && k !== KIND_GROUP) {
      fail(
        'notification-profile-member-kind',
        `member ${recipientIdText(id)} is a ${kindName(info)} not a contact or group`,
      );
    }
  }
  for (const t of [p.scheduleStartTime, p.scheduleEndTime]) {
    if (t >= 2400 || t % 100 >= 60) {
      fail('notification-profile-clock-time', `invalid 24-hour clock time ${String(t).padStart(4, '0')}`);
    }
  }
  const days: number[] = [];
  for (const d of p.scheduleDaysEnabled) {
    if (!(d >= 1 && d <= 7)) fail('notification-profile-weekday', `invalid day of week value ${d}`);
    if (days.includes(d))
      fail('notification-profile-duplicate-day', `${DAY_NAMES[d]} appears twice in enabledDays`);
    days.push(d);
  }
  if (p.id.length === 0) fail('notification-profile-missing-id', 'missing id for profile');
  if (p.id.length !== 16) fail('notification-profile-invalid-id', 'id is invalid (not 16 bytes)');
}

/** Returns true for an ALL folder (completion needs exactly one when any folder exists). */
export function checkChatFolder(f: ChatFolder, st: ValidationState): boolean {
  const type = f.folderType === 1 || f.folderType === 2 ? f.folderType : 0;
  if (type === 0) fail('chat-folder-unknown-type', `unknown type ${f.folderType}`);
  if (type === 1) {
    if (f.name !== '') fail('chat-folder-all-name', 'ALL folder name must be empty');
    if (f.showOnlyUnread) fail('chat-folder-all-only-unread', 'ALL folder must not only show unread');
    if (!f.showMutedChats) fail('chat-folder-all-muted', 'ALL folder must show muted chats');
    if (!f.includeAllIndividualChats) {
      fail('chat-folder-all-individual', 'ALL folder must include individual chats by default');
    }
    if (!f.includeAllGroupChats)
      fail('chat-folder-all-groups', 'ALL folder must include group chats by default');
    if (f.includedRecipientIds.length > 0)
      fail('chat-folder-all-includes', 'ALL folder must not have specific includes');
    if (f.excludedRecipientIds.length > 0)
      fail('chat-folder-all-excludes', 'ALL folder must not exclude chats');
  } else {
    if (f.name === '') fail('chat-folder-missing-name', 'missing name for non-ALL folder');
    const included = new Set<bigint>();
    for (const id of f.includedRecipientIds) {
      if (included.has(id))
        fail('chat-folder-member-duplicate', `included member ${recipientIdText(id)} appears multiple times`);
      included.add(id);
      memberKind(st, id, 'included');
    }
    const excluded = new Set<bigint>();
    for (const id of f.excludedRecipientIds) {
      if (excluded.has(id))
        fail('chat-folder-member-duplicate', `excluded member ${recipientIdText(id)} appears multiple times`);
      excluded.add(id);
      if (included.has(id)) {
        fail(
          'chat-folder-member-both',
          `recipient ${recipientIdText(id)} is in both the included and excluded lists`,
        );
      }
      memberKind(st, id, 'excluded');
    }
  }
  if (f.id.length === 0) fail('chat-folder-missing-id', 'missing id for folder');
  if (f.id.length !== 16) fail('chat-folder-invalid-id', 'id is invalid (not 16 bytes)');
  return type === 1;
}

function memberKind(st: ValidationState, id: bigint, which: string): void {
  const info = st.recipient(id);
  if (info === undefined)
    fail('chat-folder-member-unknown', `${which} member ${recipientIdText(id)} is unknown`);
  const k = kindOf(info);
  if (k !== 0 && k !== 1 && k !== 3 && k !== 4) {
    fail('chat-folder-member-kind', `${which} member ${recipientIdText(id)} is a ${kindName(info)}`);
  }
}
