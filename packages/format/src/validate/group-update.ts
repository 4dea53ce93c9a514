import type { GroupChangeChatUpdate_Update } from '../gen/Backup.ts';
import { unknownText } from './chat-style.ts';
import { serviceIdKind } from './recipient.ts';
import { fail } from './rule-error.ts';

// libsignal chat/group.rs: every group-change update is checked field by field, in the order
// below, and the first bad field is reported as "group update: Message.field: problem".

type FieldKind = 'optAci' | 'aci' | 'serviceId' | 'count' | 'access' | 'invitees';

const T: Record<string, [string, [string, FieldKind][]]> = {
  genericGroupUpdate: ['GenericGroupUpdate', [['updaterAci', 'optAci']]],
  groupCreationUpdate: ['GroupCreationUpdate', [['updaterAci', 'optAci']]],
  groupNameUpdate: ['GroupNameUpdate', [['updaterAci', 'optAci']]],
  groupAvatarUpdate: ['GroupAvatarUpdate', [['updaterAci', 'optAci']]],
  groupDescriptionUpdate: ['GroupDescriptionUpdate', [['updaterAci', 'optAci']]],
  groupMembershipAccessLevelChangeUpdate: [
    'GroupMembershipAccessLevelChangeUpdate',
    [
      ['updaterAci', 'optAci'],
      ['accessLevel', 'access'],
    ],
  ],
  groupMemberLabelAccessLevelChangeUpdate: [
    'GroupMemberLabelAccessLevelChangeUpdate',
    [
      ['updaterAci', 'optAci'],
      ['accessLevel', 'access'],
    ],
  ],
  groupAttributesAccessLevelChangeUpdate: [
    'GroupAttributesAccessLevelChangeUpdate',
    [
      ['updaterAci', 'optAci'],
      ['accessLevel', 'access'],
    ],
  ],
  groupAnnouncementOnlyChangeUpdate: ['GroupAnnouncementOnlyChangeUpdate', [['updaterAci', 'optAci']]],
  groupAdminStatusUpdate: [
    'GroupAdminStatusUpdate',
    [
      ['updaterAci', 'optAci'],
      ['memberAci', 'aci'],
    ],
  ],
  groupMemberLeftUpdate: ['GroupMemberLeftUpdate', [['aci', 'aci']]],
  groupMemberRemovedUpdate: [
    'GroupMemberRemovedUpdate',
    [
      ['removerAci', 'optAci'],
      ['removedAci', 'aci'],
    ],
  ],
  selfInvitedToGroupUpdate: ['SelfInvitedToGroupUpdate', [['inviterAci', 'optAci']]],
  selfInvitedOtherUserToGroupUpdate: [
    'SelfInvitedOtherUserToGroupUpdate',
    [['inviteeServiceId', 'serviceId']],
  ],
  groupUnknownInviteeUpdate: [
    'GroupUnknownInviteeUpdate',
    [
      ['inviterAci', 'optAci'],
      ['inviteeCount', 'count'],
    ],
  ],
  groupInvitationAcceptedUpdate: [
    'GroupInvitationAcceptedUpdate',
    [
      ['inviterAci', 'optAci'],
      ['newMemberAci', 'aci'],
    ],
  ],
  groupInvitationDeclinedUpdate: [
    'GroupInvitationDeclinedUpdate',
    [
      ['inviterAci', 'optAci'],
      ['inviteeAci', 'optAci'],
    ],
  ],
  groupMemberJoinedUpdate: ['GroupMemberJoinedUpdate', [['newMemberAci', 'aci']]],
  groupMemberAddedUpdate: [
    'GroupMemberAddedUpdate',
    [
      ['updaterAci', 'optAci'],
      ['newMemberAci', 'aci'],
      ['inviterAci', 'optAci'],
    ],
  ],
  groupSelfInvitationRevokedUpdate: ['GroupSelfInvitationRevokedUpdate', [['revokerAci', 'optAci']]],
  groupInvitationRevokedUpdate: [
    'GroupInvitationRevokedUpdate',
    [
      ['updaterAci', 'optAci'],
      ['invitees', 'invitees'],
    ],
  ],
  groupJoinRequestUpdate: ['GroupJoinRequestUpdate', [['requestorAci', 'aci']]],
  groupJoinRequestApprovalUpdate: [
    'GroupJoinRequestApprovalUpdate',
    [
      ['requestorAci', 'aci'],
      ['updaterAci', 'optAci'],
    ],
  ],
  groupJoinRequestCanceledUpdate: ['GroupJoinRequestCanceledUpdate', [['requestorAci', 'aci']]],
  groupInviteLinkResetUpdate: ['GroupInviteLinkResetUpdate', [['updaterAci', 'optAci']]],
  groupInviteLinkEnabledUpdate: ['GroupInviteLinkEnabledUpdate', [['updaterAci', 'optAci']]],
  groupInviteLinkAdminApprovalUpdate: ['GroupInviteLinkAdminApprovalUpdate', [['updaterAci', 'optAci']]],
  groupInviteLinkDisabledUpdate: ['GroupInviteLinkDisabledUpdate', [['updaterAci', 'optAci']]],
  groupMemberJoinedByLinkUpdate: ['GroupMemberJoinedByLinkUpdate', [['newMemberAci', 'aci']]],
  groupV2MigrationUpdate: ['GroupV2MigrationUpdate', []],
  groupV2MigrationSelfInvitedUpdate: ['GroupV2MigrationSelfInvitedUpdate', []],
  groupV2MigrationInvitedMembersUpdate: [
    'GroupV2MigrationInvitedMembersUpdate',
    [['invitedMembersCount', 'count']],
  ],
  groupV2MigrationDroppedMembersUpdate: [
    'GroupV2MigrationDroppedMembersUpdate',
    [['droppedMembersCount', 'count']],
  ],
  groupSequenceOfRequestsAndCancelsUpdate: [
    'GroupSequenceOfRequestsAndCancelsUpdate',
    [
      ['requestorAci', 'aci'],
      ['count', 'count'],
    ],
  ],
  groupExpirationTimerUpdate: ['GroupExpirationTimerUpdate', [['updaterAci', 'optAci']]],
  groupTerminateChangeUpdate: ['GroupTerminateChangeUpdate', [['updaterAci', 'optAci']]],
};

type Invitee = {
  inviterAci?: Uint8Array | undefined;
  inviteeAci?: Uint8Array | undefined;
  inviteePni?: Uint8Array | undefined;
};

function fieldProblem(kind: FieldKind, v: unknown): string | undefined {
  switch (kind) {
    case 'optAci':
      return v === undefined || (v as Uint8Array).length === 16 ? undefined : 'invalid ACI';
    case 'aci':
      return (v as Uint8Array).length === 16 ? undefined : 'invalid ACI';
    case 'serviceId':
      return serviceIdKind(v as Uint8Array) === undefined ? 'invalid binary service ID' : undefined;
    case 'count':
      return v === 0 ? 'count must be nonzero' : undefined;
    case 'access': {
      const a = v as number;
      if (a === 1 || a === 2 || a === 3) return undefined;
      return `accessLevel is ${a === 4 ? 'UNSATISFIABLE' : 'UNKNOWN'}`;
    }
    case 'invitees': {
      const list = v as Invitee[];
      if (list.length === 0) return 'count must be nonzero';
      for (const i of list) {
        if (i.inviterAci !== undefined && i.inviterAci.length !== 16)
          return 'invitee has invalid inviter ACI';
        if (i.inviteeAci !== undefined && i.inviteeAci.length !== 16)
          return 'invitee has invalid ACI for invitee';
        if (i.inviteePni !== undefined && i.inviteePni.length !== 16)
          return 'invitee has invalid PNI for invitee';
      }
      return undefined;
    }
  }
}

/** Validates GroupChangeChatUpdate.updates (messages relative to the chat item). */
export function checkGroupChange(updates: GroupChangeChatUpdate_Update[]): void {
  if (updates.length === 0) fail('group-change-empty', 'GroupChange has no changes.');
  for (let i = 0; i < updates.length; i++) {
    const u = updates[i] as GroupChangeChatUpdate_Update;
    const inner = u.update;
    if (inner === undefined) {
      fail(
        'group-change-update-empty',
        `for GroupUpdate change ${i}, Update.update is a oneof but is empty with ${unknownText(u)}`,
      );
    }
    const entry = T[inner.$case];
    if (entry === undefined) continue;
    const [name, fields] = entry;
    const msg = (inner as unknown as Record<string, Record<string, unknown>>)[inner.$case] as Record<
      string,
      unknown
    >;
    for (const [field, kind] of fields) {
      const problem = fieldProblem(kind, msg[field]);
      if (problem !== undefined)
        fail('group-update-field', `group update: group update: ${name}.${field}: ${problem}`);
    }
    if (inner.$case === 'groupMemberAddedUpdate') {
      const m = inner.groupMemberAddedUpdate;
      if (m.inviterAci !== undefined && !m.hadOpenInvitation) {
        fail(
          'group-update-field',
          'group update: group update: GroupMemberAddedUpdate.inviterAci: inviter ACI is present but hadOpenInvitation is false',
        );
      }
    }
  }
}
