import type { ChatUpdateMessage, GroupCall, IndividualCall } from '../gen/Backup.ts';
import { unknownText } from './chat-style.ts';
import { checkGroupChange } from './group-update.ts';
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
import { checkPollString } from './messages.ts';
import { fail, prefixError, recipientIdText } from './rule-error.ts';
import type { ValidationState } from './state.ts';
import { checkTimestamp } from './timestamp.ts';

// libsignal chat/update_message.rs and call.rs. An update is summarised as a small number:
// 1..16 = SimpleChatUpdate.Type, larger values = the other update kinds.

export const U_GROUP = 101;
export const U_EXPIRATION = 102;
export const U_PROFILE = 103;
export const U_THREAD_MERGE = 104;
export const U_SESSION_SWITCHOVER = 105;
export const U_INDIVIDUAL_CALL = 106;
export const U_GROUP_CALL = 107;
export const U_LEARNED_PROFILE = 108;
export const U_POLL_TERMINATE = 109;
export const U_PIN_MESSAGE = 110;

const SIMPLE_NAMES = [
  'Unknown',
  'JoinedSignal',
  'IdentityUpdate',
  'IdentityVerified',
  'IdentityDefault',
  'ChangeNumber',
  'ReleaseChannelDonationRequest',
  'EndSession',
  'ChatSessionRefresh',
  'BadDecrypt',
  'PaymentsActivated',
  'PaymentActivationRequest',
  'UnsupportedProtocolMessage',
  'ReportedSpam',
  'Blocked',
  'Unblocked',
  'MessageRequestAccepted',
];

function checkIndividualCall(c: IndividualCall): void {
  if (!(c.direction === 1 || c.direction === 2))
    fail('call-unknown-direction', 'call direction is UNKNOWN_DIRECTION');
  if (!(c.type === 1 || c.type === 2)) fail('call-unknown-type', 'call type is UNKNOWN_TYPE');
  if (!(c.state >= 1 && c.state <= 4)) fail('call-unknown-state', 'call state is UNKNOWN_STATE');
  checkTimestamp(c.startedCallTimestamp, 'Call.timestamp');
}

function checkCallParticipant(id: bigint, st: ValidationState, role: 'starter' | 'ringer'): void {
  const info = st.recipient(id);
  const rid = recipientIdText(id);
  if (info === undefined) {
    fail(
      'call-unknown-participant',
      role === 'starter' ? `call starter ${rid} not found,` : `no record for ringer ${rid}`,
    );
  }
  const k = kindOf(info);
  if (k === KIND_CONTACT) {
    if ((info & FLAG_ACI) === 0)
      fail('call-participant-no-aci', `${role === 'starter' ? 'call starter' : 'ringer'} ${rid} has no ACI`);
  } else if (k !== KIND_SELF) {
    fail(
      'call-invalid-participant',
      `${role === 'starter' ? 'call starter' : 'ringer'} ${rid} is a ${kindName(info)}, not a contact or self`,
    );
  }
}

function checkGroupCall(c: GroupCall, st: ValidationState): void {
  if (c.startedCallRecipientId !== undefined) checkCallParticipant(c.startedCallRecipientId, st, 'starter');
  if (c.ringerRecipientId !== undefined) checkCallParticipant(c.ringerRecipientId, st, 'ringer');
  if (!(c.state >= 1 && c.state <= 8)) fail('call-unknown-state', 'call state is UNKNOWN_STATE');
  checkTimestamp(c.startedCallTimestamp, 'GroupCall.startedCallTimestamp');
  if (c.endedCallTimestamp !== undefined)
    checkTimestamp(c.endedCallTimestamp, 'GroupCall.endedCallTimestamp');
}

/** Validates the update's own content and returns its kind number. */
export function checkUpdateMessage(m: ChatUpdateMessage, st: ValidationState): number {
  const u = m.update;
  if (u === undefined)
    fail('update-empty', `ChatUpdateMessage.update is a oneof but is empty with ${unknownText(m)}`);
  switch (u.$case) {
    case 'simpleUpdate': {
      const t = u.simpleUpdate.type;
      if (!(t >= 1 && t <= 16)) fail('chat-update-unknown', 'chat update type is UNKNOWN');
      return t;
    }
    case 'groupChange':
      checkGroupChange(u.groupChange.updates);
      return U_GROUP;
    case 'expirationTimerChange':
      return U_EXPIRATION;
    case 'profileChange':
      if (u.profileChange.previousName === '' || u.profileChange.newName === '') {
        fail(
          'profile-change-missing-names',
          'profile change update must have both a previousName and a newName',
        );
      }
      return U_PROFILE;
    case 'threadMerge':
      if (u.threadMerge.previousE164 === 0n) fail('invalid-e164', 'invalid e164');
      return U_THREAD_MERGE;
    case 'sessionSwitchover':
      if (u.sessionSwitchover.e164 === 0n) fail('invalid-e164', 'invalid e164');
      return U_SESSION_SWITCHOVER;
    case 'individualCall':
      try {
        checkIndividualCall(u.individualCall);
      } catch (e) {
        throw prefixError(e, 'call error: ');
      }
      return U_INDIVIDUAL_CALL;
    case 'groupCall':
      try {
        checkGroupCall(u.groupCall, st);
      } catch (e) {
        throw prefixError(e, 'call error: ');
      }
      return U_GROUP_CALL;
    case 'learnedProfileChange':
      if (u.learnedProfileChange.previousName === undefined) {
        fail('learned-profile-empty', 'learned profile chat update has no e164 or name');
      }
      return U_LEARNED_PROFILE;
    case 'pollTerminate':
      checkPollString(u.pollTerminate.question, 'poll question', 200);
      try {
        checkTimestamp(u.pollTerminate.targetSentTimestamp, 'PollTerminateUpdate.targetSentTimestamp');
      } catch (e) {
        throw prefixError(e, 'invalid poll ');
      }
      return U_POLL_TERMINATE;
    case 'pinMessage': {
      const info = st.recipient(u.pinMessage.authorId);
      if (info === undefined)
        fail('pin-message-unknown-author', 'invalid pin message author id is not present');
      const k = kindOf(info);
      if (k !== KIND_SELF && k !== KIND_CONTACT) {
        fail('pin-message-invalid-author', 'invalid pin message author id is not self nor contact');
      }
      try {
        checkTimestamp(u.pinMessage.targetSentTimestamp, 'PinMessageUpdate.targetSentTimestamp');
      } catch (e) {
        throw prefixError(e, 'invalid pin message ');
      }
      return U_PIN_MESSAGE;
    }
  }
}

const validSender = (author: number): boolean =>
  kindOf(author) === KIND_SELF ||
  (kindOf(author) === KIND_CONTACT && (author & (FLAG_ACI | FLAG_E164)) !== 0);
const contactWithAci = (info: number): boolean => kindOf(info) === KIND_CONTACT && (info & FLAG_ACI) !== 0;

/** Which authors may produce which updates (libsignal `UpdateMessage::validate_author`). */
export function checkUpdateAuthor(kind: number, author: number): void {
  const ak = kindOf(author);
  switch (kind) {
    case 1:
    case 7:
    case 8:
    case 2:
      if (ak === KIND_RELEASE_NOTES)
        fail('chat-update-not-from-aci', `chat update not from ACI: ${SIMPLE_NAMES[kind]}`);
      return;
    case 4:
    case 3:
    case 5:
    case 9:
    case 12:
      if (!validSender(author))
        fail('chat-update-not-from-contact', `chat update not from contact: ${SIMPLE_NAMES[kind]}`);
      return;
    case 11:
    case 10:
      if (!(contactWithAci(author) || ak === KIND_SELF)) {
        fail('chat-update-not-from-aci', `chat update not from ACI: ${SIMPLE_NAMES[kind]}`);
      }
      return;
    case 13:
    case 14:
    case 15:
    case 16:
      if (ak !== KIND_SELF)
        fail('chat-update-not-from-self', `chat update not from Self: ${SIMPLE_NAMES[kind]}`);
      return;
    case 6:
      if (ak !== KIND_RELEASE_NOTES) {
        fail('donation-request-not-from-release-notes', 'donation request not from Release Notes recipient');
      }
      return;
    case U_GROUP:
      if (!validSender(author))
        fail('group-update-not-from-contact', 'group update not from contact or Self');
      return;
    case U_EXPIRATION:
      if (!validSender(author)) {
        fail('expiration-change-not-from-contact', 'expiration timer change not from contact or Self');
      }
      return;
    case U_PROFILE:
      if (!validSender(author)) fail('profile-change-not-from-contact', 'profile change not from contact');
      return;
    case U_THREAD_MERGE:
      if (!(contactWithAci(author) || ak === KIND_SELF)) {
        fail('thread-merge-not-from-aci', 'thread merge not from ACI contact or Self');
      }
      return;
    case U_SESSION_SWITCHOVER:
      if (ak === KIND_RELEASE_NOTES)
        fail('session-switchover-from-release-notes', 'session switchover from release notes');
      return;
    case U_INDIVIDUAL_CALL:
    case U_GROUP_CALL:
      if (!validSender(author)) fail('call-not-from-contact', 'call not from contact or self');
      return;
    case U_LEARNED_PROFILE:
      if (!validSender(author))
        fail('learned-profile-not-from-contact', 'learned profile update not from contact');
      return;
    case U_POLL_TERMINATE:
      if (!validSender(author))
        fail('poll-terminate-not-from-contact', 'poll terminate not from contact or self');
      return;
    case U_PIN_MESSAGE:
      if (!validSender(author)) fail('pin-message-not-from-contact', 'pin message not from contact or self');
      return;
  }
}

/** Which chats may hold which updates (libsignal `UpdateMessage::validate_chat_recipient`). */
export function checkUpdateChat(kind: number, chat: number): void {
  const ck = kindOf(chat);
  const individual = ck === KIND_CONTACT || ck === KIND_SELF;
  switch (kind) {
    case 1:
    case 7:
    case 8:
    case 11:
    case 10:
      if (!individual)
        fail('chat-update-not-in-contact-thread', `chat update not in contact thread: ${SIMPLE_NAMES[kind]}`);
      return;
    case 4:
    case 3:
    case 2:
    case 5:
    case 9:
    case 12:
    case 13:
    case 16:
    case U_PROFILE:
    case U_LEARNED_PROFILE:
      if (ck === KIND_RELEASE_NOTES)
        fail('unexpected-update-in-release-notes', 'unexpected update message in Release Notes');
      return;
    case 6:
      if (ck !== KIND_RELEASE_NOTES) {
        fail('donation-request-not-in-release-notes', 'donation request outside of Release Notes chat');
      }
      return;
    case 14:
    case 15:
      return;
    case U_GROUP:
      if (ck !== KIND_GROUP) fail('group-update-not-in-group', 'group update not in group thread');
      return;
    case U_EXPIRATION:
      if (!individual)
        fail('expiration-change-not-in-contact-thread', 'expiration timer change not in contact thread');
      return;
    case U_THREAD_MERGE:
      if (!contactWithAci(chat))
        fail('thread-merge-not-in-contact-thread', 'thread merge not in contact thread');
      return;
    case U_SESSION_SWITCHOVER:
      if (!contactWithAci(chat)) {
        fail('session-switchover-not-in-contact-thread', 'session switchover not in contact thread');
      }
      return;
    case U_INDIVIDUAL_CALL:
      if (!individual) fail('individual-call-not-in-contact-thread', 'individual call not in contact thread');
      return;
    case U_GROUP_CALL:
      if (ck !== KIND_GROUP) fail('group-call-not-in-group', 'group call not in group thread');
      return;
    case U_POLL_TERMINATE:
      if (ck === KIND_RELEASE_NOTES) {
        fail(
          'poll-terminate-unexpected-destination',
          `unexpected poll terminate destination ${kindName(chat)}`,
        );
      }
      return;
    case U_PIN_MESSAGE:
      if (ck === KIND_RELEASE_NOTES)
        fail('pin-message-to-release-notes', 'pin message sent to release notes');
      return;
  }
}
