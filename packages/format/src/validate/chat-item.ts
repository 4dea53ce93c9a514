import type { ChatItem, ChatItem_PinDetails } from '../gen/Backup.ts';
import { unknownText } from './chat-style.ts';
import { checkAttachment } from './file-pointer.ts';
import {
  FLAG_ACI,
  FLAG_E164,
  KIND_CONTACT,
  KIND_GROUP,
  KIND_RELEASE_NOTES,
  KIND_SELF,
  kindName,
  kindOf,
} from './ids.ts';
import {
  checkAdminDeleted,
  checkContactAttachment,
  checkDirectStoryReply,
  checkGiftBadge,
  checkPayment,
  checkPoll,
  checkReactions,
  checkStandardMessage,
  checkSticker,
  checkVoiceMessage,
  isVoiceMessage,
} from './messages.ts';
import { purposeLabel } from './purpose.ts';
import { fail, prefixError, recipientIdText } from './rule-error.ts';
import type { ValidationState } from './state.ts';
import { checkTimestamp } from './timestamp.ts';
import { checkUpdateAuthor, checkUpdateChat, checkUpdateMessage } from './update-message.ts';

// libsignal backup/chat.rs (ChatItem). Messages are relative to "chat item <dateSent>: ".

export const M_STANDARD = 0;
export const M_CONTACT = 1;
export const M_VOICE = 2;
export const M_STICKER = 3;
export const M_REMOTE_DELETED = 4;
export const M_UPDATE = 5;
export const M_PAYMENT = 6;
export const M_GIFT_BADGE = 7;
export const M_VIEW_ONCE = 8;
export const M_STORY_REPLY = 9;
export const M_POLL = 10;
export const M_ADMIN_DELETED = 11;
const MESSAGE_NAMES = [
  'Standard',
  'Contact',
  'Voice',
  'Sticker',
  'RemoteDeleted',
  'Update',
  'PaymentNotification',
  'GiftBadge',
  'ViewOnce',
  'DirectStoryReply',
  'Poll',
  'AdminDeleted',
];
const DIRECTION_NAMES = ['Incoming', 'Outgoing', 'Directionless'];

/** spec 3.5: RemoteBackup rejects disappearing messages shorter than / expiring within 24 h. */
const DAY_MS = 86_400_000n;

/** Results of the last checkItem() call (read immediately by the caller; avoids an allocation). */
export const lastItem = { author: 0, message: 0, direction: 0, update: 0, attachments: 0 };

function checkPinDetails(p: ChatItem_PinDetails): void {
  checkTimestamp(p.pinnedAtTimestamp, 'PinDetails.pinAtTimestamp');
  const e = p.pinExpiry;
  if (e === undefined || (e.$case === 'pinNeverExpires' && !e.pinNeverExpires)) {
    fail('pin-expiration-not-set', 'pin expiration is not set');
  }
  if (e.$case === 'pinExpiresAtTimestamp') {
    checkTimestamp(e.pinExpiresAtTimestamp, 'PinDetails.pinExpiry.pinExpiresAtTimestamp');
    if (e.pinExpiresAtTimestamp < p.pinnedAtTimestamp) {
      fail('pin-expires-before-pinned', 'pin message expires before it is pinned');
    }
  }
}

const secs = (ms: bigint): bigint => ms / 1000n;

/** Everything libsignal checks when converting one ChatItem (revisions included). */
export function checkItem(ci: ChatItem, st: ValidationState): void {
  // 1. direction
  const dd = ci.directionalDetails;
  if (dd === undefined) {
    fail(
      'chat-item-no-direction',
      `ChatItem.directionalDetails is a oneof but is empty with ${unknownText(ci)}`,
    );
  }
  let direction: number;
  let shouldHaveStarted = false;
  if (dd.$case === 'incoming') {
    direction = 0;
    const inc = dd.incoming;
    if (inc.dateServerSent !== undefined)
      checkTimestamp(inc.dateServerSent, 'DirectionalDetails.dateServerSent');
    checkTimestamp(inc.dateReceived, 'DirectionalDetails.dateReceived');
    shouldHaveStarted = inc.read;
  } else if (dd.$case === 'outgoing') {
    direction = 1;
    const out = dd.outgoing;
    let allSent = true;
    for (const s of out.sendStatus) {
      const info = st.recipient(s.recipientId);
      if (info === undefined)
        fail(
          'send-status-unknown-recipient',
          `outgoing message send status has unknown recipient ${recipientIdText(s.recipientId)}`,
        );
      const k = kindOf(info);
      if (k !== KIND_CONTACT && k !== KIND_SELF) {
        fail(
          'send-status-invalid-recipient',
          `outgoing message send status recipient ${recipientIdText(s.recipientId)} is a ${kindName(info)}, not a contact or self`,
        );
      }
      const ds = s.deliveryStatus;
      if (ds === undefined) fail('send-status-missing', 'outgoing message send status is missing');
      if (ds.$case === 'pending' || ds.$case === 'failed') allSent = false;
      try {
        checkTimestamp(s.timestamp, 'SendStatus.timestamp');
      } catch (e) {
        throw prefixError(
          e,
          `outgoing message send status for recipient ${recipientIdText(s.recipientId)}: `,
        );
      }
    }
    checkTimestamp(out.dateReceived, 'OutgoingMessageDetails.dateReceived');
    shouldHaveStarted = allSent;
  } else {
    direction = 2;
  }

  // 2. author, and which authors fit which direction
  const author = st.recipient(ci.authorId);
  if (author === undefined)
    fail('chat-item-author-not-found', `no record for chat item author ${recipientIdText(ci.authorId)}`);
  const ak = kindOf(author);
  if (ak !== KIND_CONTACT && ak !== KIND_SELF && ak !== KIND_RELEASE_NOTES) {
    fail(
      'chat-item-invalid-author',
      `chat item author ${recipientIdText(ci.authorId)} is a ${kindName(author)}`,
    );
  }
  if (ak === KIND_SELF && direction === 0)
    fail('incoming-message-from-self', 'incoming message authored by self');
  if (ak !== KIND_SELF && direction === 1) {
    fail(
      'outgoing-message-from-other',
      `outgoing message authored by ${kindName(author)} ${recipientIdText(ci.authorId)}`,
    );
  }
  if (ak === KIND_CONTACT && direction === 0 && (author & (FLAG_ACI | FLAG_E164)) === 0) {
    fail(
      'incoming-message-without-aci-or-e164',
      `incoming message authored by contact ${recipientIdText(ci.authorId)} with no ACI or e164`,
    );
  }

  // 3. the message itself
  const item = ci.item;
  if (item === undefined)
    fail('chat-item-missing-item', `ChatItem.item is a oneof but is empty with ${unknownText(ci)}`);
  let message: number;
  let update = 0;
  let attachments = 0;
  let viewOnceWithAttachment = false;
  switch (item.$case) {
    case 'standardMessage': {
      const m = item.standardMessage;
      attachments = m.attachments.length;
      if (isVoiceMessage(m)) {
        message = M_VOICE;
        checkVoiceMessage(m, st);
      } else {
        message = M_STANDARD;
        checkStandardMessage(m, st);
      }
      break;
    }
    case 'contactMessage':
      message = M_CONTACT;
      try {
        checkReactions(item.contactMessage.reactions, st);
      } catch (e) {
        throw prefixError(e, 'reaction: ');
      }
      checkContactAttachment(item.contactMessage.contact);
      break;
    case 'stickerMessage':
      message = M_STICKER;
      try {
        checkReactions(item.stickerMessage.reactions, st);
      } catch (e) {
        throw prefixError(e, 'reaction: ');
      }
      checkSticker(item.stickerMessage.sticker);
      break;
    case 'remoteDeletedMessage':
      message = M_REMOTE_DELETED;
      break;
    case 'updateMessage':
      message = M_UPDATE;
      update = checkUpdateMessage(item.updateMessage, st);
      break;
    case 'paymentNotification':
      message = M_PAYMENT;
      checkPayment(item.paymentNotification);
      break;
    case 'giftBadge':
      message = M_GIFT_BADGE;
      checkGiftBadge(item.giftBadge);
      break;
    case 'viewOnceMessage': {
      message = M_VIEW_ONCE;
      const a = item.viewOnceMessage.attachment;
      if (a !== undefined) {
        attachments = 1;
        viewOnceWithAttachment = true;
        try {
          checkAttachment(a);
        } catch (e) {
          throw prefixError(e, 'view-once message: attachment: ');
        }
      }
      try {
        checkReactions(item.viewOnceMessage.reactions, st);
      } catch (e) {
        throw prefixError(e, 'view-once message: invalid reaction: ');
      }
      break;
    }
    case 'directStoryReplyMessage':
      message = M_STORY_REPLY;
      checkDirectStoryReply(item.directStoryReplyMessage, st);
      break;
    case 'poll':
      message = M_POLL;
      checkPoll(item.poll, st);
      break;
    case 'adminDeletedMessage':
      message = M_ADMIN_DELETED;
      checkAdminDeleted(item.adminDeletedMessage, st);
      break;
  }

  // 4. only updates are directionless, and updates are always directionless
  if (direction === 2 && message !== M_UPDATE)
    fail('directionless-message', "directionless ChatItem wasn't an update message");
  if (direction !== 2 && message === M_UPDATE) {
    fail('update-message-not-directionless', "update message wasn't directionless");
  }
  if (message === M_UPDATE) checkUpdateAuthor(update, author);

  // 5. spec 3.5: takeout exports exclude view-once content
  const purpose = st.purpose;
  if (purpose === 'takeout-export' && viewOnceWithAttachment) {
    fail(
      'expiration-not-allowed',
      `expiration too soon: expiration timers are not allowed for ${purposeLabel(purpose)}`,
    );
  }

  // 6. revisions: only Standard / DirectStoryReply, same author, direction and type, not nested
  const revisions = ci.revisions;
  if (revisions.length > 0) {
    if (message !== M_STANDARD && message !== M_STORY_REPLY) {
      fail(
        'non-standard-message-has-revisions',
        "ChatItem that isn't a StandardMessage or DirectStoryReplyMessage has revisions",
      );
    }
    for (const rev of revisions) {
      if (rev.authorId !== ci.authorId) {
        fail(
          'revision-mismatched-author',
          `revisions of message from author ${recipientIdText(ci.authorId)} contained message from author ${recipientIdText(rev.authorId)}`,
        );
      }
      checkItem(rev, st);
      if (lastItem.direction !== direction) {
        fail(
          'revision-mismatched-direction',
          `revisions of ${DIRECTION_NAMES[direction]} message contained ${DIRECTION_NAMES[lastItem.direction]} message`,
        );
      }
      if (lastItem.message !== message) {
        fail(
          'revision-mismatched-type',
          `revisions of ${MESSAGE_NAMES[message]} message contained ${MESSAGE_NAMES[lastItem.message]} message`,
        );
      }
      if (rev.revisions.length > 0) fail('nested-revisions', 'nested revisions');
    }
  }

  // 7. timestamps and disappearing-message rules (spec 3.5 "Expiring messages")
  checkTimestamp(ci.dateSent, 'ChatItem.dateSent');
  const start = ci.expireStartDate;
  if (start !== undefined) checkTimestamp(start, 'ChatItem.expireStartDate');
  const expiresIn = ci.expiresInMs;
  if (expiresIn === undefined) {
    if (start !== undefined) fail('expiration-mismatch', 'item has expiration start date but no duration');
  } else if (start === undefined) {
    if (direction !== 2 && shouldHaveStarted) {
      fail('expiration-not-started', 'item has been read/sent but expiration timer has not started');
    }
    if (purpose === 'remote-backup' && expiresIn < DAY_MS) {
      fail('expiration-too-short', `expiration too soon: expiration duration too short: ${secs(expiresIn)}s`);
    }
    if (purpose === 'takeout-export') {
      fail(
        'expiration-not-allowed',
        `expiration too soon: expiration timers are not allowed for ${purposeLabel(purpose)}`,
      );
    }
  } else {
    if (purpose === 'takeout-export') {
      fail(
        'expiration-not-allowed',
        `expiration too soon: expiration timers are not allowed for ${purposeLabel(purpose)}`,
      );
    }
    const expiresAt = start + expiresIn;
    const allowed = st.backupTimeMs + (purpose === 'remote-backup' ? DAY_MS : 0n);
    if (expiresAt < allowed) {
      const d = expiresAt - st.backupTimeMs;
      const what =
        d >= 0n ? `expires ${secs(d)}s after backup creation` : `expired ${secs(-d)}s before backup creation`;
      fail('expiration-too-soon', `expiration too soon: ${what}`);
    }
  }

  // 8. pin details
  if (ci.pinDetails !== undefined) {
    try {
      checkPinDetails(ci.pinDetails);
    } catch (e) {
      throw prefixError(e, 'invalid pin message ');
    }
  }

  lastItem.author = author;
  lastItem.message = message;
  lastItem.direction = direction;
  lastItem.update = update;
  lastItem.attachments = attachments;
}

/**
 * The chat-dependent half (libsignal `ChatItemData::validate_chat_recipient`): does this author
 * and this kind of message belong in this chat? Uses the values left in `lastItem`.
 */
export function checkItemInChat(authorId: bigint, chatRecipientId: bigint, chatInfo: number): void {
  const author = lastItem.author;
  const ak = kindOf(author);
  const ck = kindOf(chatInfo);
  if (ak === KIND_CONTACT) {
    if (ck === KIND_CONTACT && authorId !== chatRecipientId) {
      fail('message-from-contact-in-wrong-chat', 'message from contact found in a different 1:1 chat');
    }
    if (ck === KIND_SELF)
      fail('message-from-contact-in-note-to-self', 'message from contact found in Note to Self');
    if (ck === KIND_RELEASE_NOTES)
      fail('message-from-contact-in-release-notes', 'message from contact found in Release Notes');
  } else if (ak === KIND_RELEASE_NOTES && ck !== KIND_RELEASE_NOTES) {
    fail(
      'release-notes-message-outside-release-notes',
      `message from release notes recipient found in ${kindName(chatInfo)} chat instead`,
    );
  }
  const contactWithAci = ck === KIND_CONTACT && (chatInfo & FLAG_ACI) !== 0;
  switch (lastItem.message) {
    case M_UPDATE:
      checkUpdateChat(lastItem.update, chatInfo);
      return;
    case M_PAYMENT:
      if (!contactWithAci)
        fail('payment-not-in-contact-chat', `payment notification found in ${kindName(chatInfo)} chat`);
      return;
    case M_STORY_REPLY:
      if (!contactWithAci)
        fail('story-reply-not-in-contact-chat', `direct story reply found in ${kindName(chatInfo)} chat`);
      return;
    case M_POLL:
      if (ck === KIND_RELEASE_NOTES)
        fail('poll-unexpected-destination', `unexpected poll destination ${kindName(chatInfo)}`);
      return;
    case M_ADMIN_DELETED:
      if (ck !== KIND_GROUP) {
        fail('admin-deleted-not-in-group', `admin deleted message in non-group chat: ${kindName(chatInfo)}`);
      }
      return;
  }
}
