import type { CallLink, Contact, DistributionListItem, Group, Recipient } from '../gen/Backup.ts';
import { unknownText } from './chat-style.ts';
import {
  FLAG_ACI,
  FLAG_E164,
  FLAG_PNI,
  KIND_CALL_LINK,
  KIND_CONTACT,
  KIND_DISTRIBUTION_LIST,
  KIND_GROUP,
  KIND_RELEASE_NOTES,
  KIND_SELF,
  kindName,
  kindOf,
} from './ids.ts';
import { fail, recipientIdText, within } from './rule-error.ts';
import type { ValidationState } from './state.ts';
import { checkTimestamp } from './timestamp.ts';
import { isValidUsername } from './username.ts';

// libsignal backup/recipient.rs, recipient/group.rs, call.rs (CallLink). Messages are relative to
// "recipient RecipientId(n) error: ".

const bytesKey = (b: Uint8Array): string => String.fromCharCode.apply(null, b as unknown as number[]);

/** Service-id binary: 16 bytes = ACI, 17 bytes = 0x01 + UUID = PNI (libsignal core). */
export function serviceIdKind(b: Uint8Array): 'aci' | 'pni' | undefined {
  if (b.length === 16) return 'aci';
  if (b.length === 17) return b[0] === 1 ? 'pni' : undefined; // a 17-byte ACI (kind 0) is not the standard form
  return undefined;
}

/**
 * Completion-time duplicate detection (spec 3.5 "no duplicate contact ACI / PNI / E164 / username,
 * group master key, distribution-list id, call-link root key, Self or ReleaseNotes recipient").
 * The first clash in frame order is kept and reported by finish(), as libsignal reports it only
 * when the whole backup has been read.
 */
export class DuplicateTracker {
  private readonly e164 = new Map<bigint, bigint>();
  private readonly username = new Map<string, bigint>();
  private readonly aci = new Map<string, bigint>();
  private readonly pni = new Map<string, bigint>();
  private readonly masterKey = new Map<string, bigint>();
  private readonly distributionId = new Map<string, bigint>();
  private readonly rootKey = new Map<string, bigint>();
  selfId: bigint | undefined;
  private releaseNotesId: bigint | undefined;
  first: { rule: string; text: string } | undefined;

  private clash(rule: string, a: bigint, b: bigint, what: string): void {
    if (this.first !== undefined) return;
    const [x, y] = a < b ? [a, b] : [b, a];
    this.first = { rule, text: `${recipientIdText(x)} and ${recipientIdText(y)} ${what}` };
  }

  private put<K>(map: Map<K, bigint>, key: K, id: bigint, rule: string, what: string): void {
    const prev = map.get(key);
    if (prev === undefined) map.set(key, id);
    else this.clash(rule, prev, id, what);
  }

  contact(id: bigint, c: Contact): void {
    if (c.username !== undefined) {
      this.put(
        this.username,
        c.username.toLowerCase(),
        id,
        'duplicate-contact-username',
        'have the same username',
      );
    }
    if (c.e164 !== undefined)
      this.put(this.e164, c.e164, id, 'duplicate-contact-e164', 'have the same phone number');
    if (c.aci !== undefined)
      this.put(this.aci, bytesKey(c.aci), id, 'duplicate-contact-aci', 'have the same ACI');
    if (c.pni !== undefined)
      this.put(this.pni, bytesKey(c.pni), id, 'duplicate-contact-pni', 'have the same PNI');
  }
  group(id: bigint, g: Group): void {
    this.put(
      this.masterKey,
      bytesKey(g.masterKey),
      id,
      'duplicate-group-master-key',
      'have the same group master key',
    );
  }
  distributionList(id: bigint, d: DistributionListItem): void {
    const k = bytesKey(d.distributionId);
    this.put(
      this.distributionId,
      k,
      id,
      'duplicate-distribution-list-id',
      'have the same distribution list ID',
    );
  }
  callLink(id: bigint, c: CallLink): void {
    this.put(
      this.rootKey,
      bytesKey(c.rootKey),
      id,
      'duplicate-call-link-root-key',
      'have the same call link root key',
    );
  }
  self(id: bigint): void {
    if (this.selfId === undefined) this.selfId = id;
    else this.clash('duplicate-self-recipient', this.selfId, id, 'both represent the Self recipient');
  }
  releaseNotes(id: bigint): void {
    if (this.releaseNotesId === undefined) this.releaseNotesId = id;
    else
      this.clash(
        'duplicate-release-notes-recipient',
        this.releaseNotesId,
        id,
        'both represent the release notes channel',
      );
  }
}

function checkContact(c: Contact): number {
  if (c.aci !== undefined && c.aci.length !== 16) fail('contact-invalid-aci', 'invalid ACI');
  if (c.pni !== undefined && c.pni.length !== 16) fail('contact-invalid-pni', 'invalid PNI');
  if (c.username !== undefined && !isValidUsername(c.username)) {
    fail('contact-invalid-username', 'contact has invalid username');
  }
  if (c.profileKey !== undefined && c.profileKey.length !== 32) {
    fail('contact-invalid-profile-key', 'profile key is present but invalid');
  }
  const reg = c.registration;
  if (reg === undefined) fail('contact-registration-unknown', 'contact registered value is UNKNOWN');
  if (reg.$case === 'notRegistered' && reg.notRegistered.unregisteredTimestamp !== 0n) {
    checkTimestamp(reg.notRegistered.unregisteredTimestamp, 'Contact.notRegistered.unregisteredTimestamp');
  }
  if (c.e164 === 0n) fail('contact-invalid-e164', 'invalid e164');
  if (c.blockedAtTimestamp !== 0n) {
    if (!c.blocked)
      fail('contact-blocked-at-without-blocked', 'contact has a blockedAtTimestamp but is not blocked');
    checkTimestamp(c.blockedAtTimestamp, 'Contact.blockedAtTimestamp');
  }
  if (c.aci === undefined && c.pni === undefined && c.e164 === undefined) {
    fail('contact-no-identifiers', 'contact has neither an ACI, nor a PNI, nor an e164');
  }
  // An identity key is a serialized Curve25519 public key: type byte 0x05 + 32 bytes (libsignal
  // still tolerates trailing bytes after the key).
  const ik = c.identityKey;
  if (ik !== undefined && !(ik.length >= 33 && ik[0] === 5)) {
    fail('contact-invalid-identity-key', 'identity key is present but invalid');
  }
  if ((c.identityState === 1 || c.identityState === 2) && ik === undefined) {
    const name = c.identityState === 1 ? 'VERIFIED' : 'UNVERIFIED';
    fail('contact-missing-identity-key', `missing identity key for contact marked ${name}`);
  }
  if (c.nickname !== undefined && c.nickname.given === '' && c.nickname.family === '') {
    fail('contact-empty-nickname', 'Contact.nickname is present but empty');
  }
  return (
    KIND_CONTACT |
    (c.aci !== undefined ? FLAG_ACI : 0) |
    (c.e164 !== undefined ? FLAG_E164 : 0) |
    (c.pni !== undefined ? FLAG_PNI : 0)
  );
}

const ACCESS_NAMES = ['UNKNOWN', 'ANY', 'MEMBER', 'ADMINISTRATOR', 'UNSATISFIABLE'];

function checkGroup(g: Group): void {
  const p = 'invalid group: ';
  if (g.masterKey.length !== 32) fail('group-invalid-master-key', `${p}master key has wrong number of bytes`);
  if (g.blockedAtTimestamp !== 0n) {
    if (!g.blocked)
      fail('group-blocked-at-without-blocked', `${p}group has a blockedAtTimestamp but is not blocked`);
    within(p, () => checkTimestamp(g.blockedAtTimestamp, 'Group.blockedAtTimestamp'));
  }
  const s = g.snapshot;
  if (s === undefined) fail('group-missing-snapshot', `${p}missing snapshot`);
  const blob = (
    b: { content?: { $case: string } | undefined } | undefined,
    which: string,
    expected: string,
  ): void => {
    if (b === undefined) return;
    if (b.content === undefined) fail('group-blob-missing-content', `${p}${which} blob missing content`);
    if (b.content.$case !== expected) {
      fail('group-blob-wrong-content', `${p}${which} blob contained ${b.content.$case} content`);
    }
  };
  blob(s.title, 'title', 'title');
  blob(s.description, 'description', 'descriptionText');
  blob(s.disappearingMessagesTimer, 'disappearingMessagesDuration', 'disappearingMessagesDuration');
  const ac = s.accessControl;
  if (ac !== undefined) {
    // AccessRequired: 0 UNKNOWN, 1 ANY, 2 MEMBER, 3 ADMINISTRATOR, 4 UNSATISFIABLE
    const norm = (v: number): number => (v >= 0 && v <= 4 ? v : 0);
    const bad = (which: string, v: number): never =>
      fail('group-invalid-access', `${p}access control for ${which} was ${ACCESS_NAMES[v]}`);
    if ([1, 4].includes(norm(ac.attributes))) bad('attributes', norm(ac.attributes));
    if ([1, 4].includes(norm(ac.members))) bad('members', norm(ac.members));
    if (norm(ac.addFromInviteLink) === 2) bad('addFromInviteLink', 2);
    if ([1, 4].includes(norm(ac.memberLabel))) bad('memberLabel', norm(ac.memberLabel));
  }
  for (const m of s.members) {
    const k = serviceIdKind(m.userId);
    if (k === undefined)
      fail('group-member-invalid-service-id', `${p}member user ID was not a valid service ID`);
    if (k !== 'aci') fail('group-member-invalid-aci', `${p}member user ID should be an ACI, but was PNI`);
    if (m.role !== 1 && m.role !== 2) fail('group-member-role-unknown', `${p}member role was UNKNOWN`);
    if (m.labelEmoji !== '' && m.labelString === '') {
      fail('group-member-label-emoji', `${p}member labelEmoji was set without labelString set`);
    }
  }
  for (const m of s.membersPendingProfileKey) {
    const inner = m.member;
    if (inner === undefined) {
      fail('group-pending-member-missing', `${p}MemberPendingProfileKey missing nested Member info`);
    }
    if (serviceIdKind(inner.userId) === undefined) {
      fail('group-member-invalid-service-id', `${p}invited member user ID was not a valid service ID`);
    }
    if (inner.role !== 1 && inner.role !== 2)
      fail('group-member-role-unknown', `${p}member role was UNKNOWN`);
    const k = serviceIdKind(m.addedByUserId);
    if (k === undefined)
      fail('group-member-invalid-service-id', `${p}inviter user ID was not a valid service ID`);
    if (k !== 'aci') fail('group-member-invalid-aci', `${p}inviter user ID should be an ACI, but was PNI`);
    within(p, () => checkTimestamp(m.timestamp, 'MemberPendingProfileKey'));
    if (inner.labelEmoji !== '' || inner.labelString !== '') {
      fail('group-pending-member-label', `${p}MemberPendingProfileKey's labels were set`);
    }
  }
  for (const m of s.membersPendingAdminApproval) {
    const k = serviceIdKind(m.userId);
    if (k === undefined) {
      fail('group-member-invalid-service-id', `${p}requesting member user ID was not a valid service ID`);
    }
    if (k !== 'aci')
      fail('group-member-invalid-aci', `${p}requesting member user ID should be an ACI, but was PNI`);
    within(p, () => checkTimestamp(m.timestamp, 'MemberPendingAdminApproval'));
  }
  for (const m of s.membersBanned) {
    if (serviceIdKind(m.userId) === undefined) {
      fail('group-member-invalid-service-id', `${p}banned member user ID was not a valid service ID`);
    }
    within(p, () => checkTimestamp(m.timestamp, 'MemberBanned'));
  }
}

function isMyStory(id: Uint8Array): boolean {
  for (let i = 0; i < id.length; i++) if (id[i] !== 0) return false;
  return true;
}

function checkDistributionList(d: DistributionListItem, st: ValidationState): void {
  if (d.distributionId.length !== 16)
    fail('distribution-list-invalid-id', 'distribution destination has invalid UUID');
  const item = d.item;
  if (item === undefined) {
    fail(
      'distribution-list-item-missing',
      `DistributionList.item is a oneof but is empty with ${unknownText(d)}`,
    );
  }
  const myStory = isMyStory(d.distributionId);
  if (item.$case === 'deletionTimestamp') {
    if (myStory)
      fail('distribution-list-delete-my-story', 'DistributionList for My Story should not be deleted');
    checkTimestamp(item.deletionTimestamp, 'DistributionList.deletionTimestamp');
    return;
  }
  const list = item.distributionList;
  const seen = new Set<bigint>();
  for (const id of list.memberRecipientIds) {
    if (seen.has(id)) {
      fail(
        'distribution-list-member-duplicate',
        `distribution list member ${recipientIdText(id)} appears multiple times`,
      );
    }
    seen.add(id);
    const info = st.recipient(id);
    if (info === undefined) {
      fail('distribution-list-member-unknown', `distribution list member ${recipientIdText(id)} is unknown`);
    }
    if (kindOf(info) !== KIND_CONTACT) {
      fail(
        'distribution-list-member-wrong-kind',
        `distribution list member ${recipientIdText(id)} is a ${kindName(info)} not a contact`,
      );
    }
    if ((info & (FLAG_ACI | FLAG_PNI)) === 0) {
      fail(
        'distribution-list-member-no-service-id',
        `distribution list member ${recipientIdText(id)} is a contact with no service IDs`,
      );
    }
  }
  // PrivacyMode: 0 UNKNOWN, 1 ONLY_WITH, 2 ALL_EXCEPT, 3 ALL
  const mode = list.privacyMode >= 0 && list.privacyMode <= 3 ? list.privacyMode : 0;
  if (mode === 0) fail('distribution-list-privacy-unknown', 'distribution list has privacy mode UNKNOWN');
  if (mode === 1) return;
  if (!myStory) {
    fail(
      'distribution-list-privacy-invalid',
      `distribution list has privacy mode ${mode === 2 ? 'ALL_EXCEPT' : 'ALL'} but is not "My Story"`,
    );
  }
  const n = list.memberRecipientIds.length;
  if (mode === 2 && n === 0) {
    fail('distribution-list-all-except-empty', 'distribution list has no members but has privacy ALL_EXCEPT');
  }
  if (mode === 3 && n !== 0)
    fail('distribution-list-all-with-members', 'distribution list has members but has privacy ALL');
}

function checkCallLink(c: CallLink): void {
  const p = 'invalid call link: ';
  if (c.rootKey.length < 16) {
    fail('call-link-root-key', `${p}expected at least 16-byte root key, found ${c.rootKey.length} bytes`);
  }
  if (c.adminKey !== undefined && c.adminKey.length === 0)
    fail('call-link-admin-key', `${p}admin key was present but empty`);
  within(p, () => checkTimestamp(c.expirationMs, 'CallLink.expirationMs'));
}

/**
 * Validates a Recipient frame's destination and returns the compact info to remember.
 * (Id zero / duplicate id are checked by the caller, in libsignal's order.)
 */
export function checkRecipient(r: Recipient, st: ValidationState, dups: DuplicateTracker): number {
  const d = r.destination;
  if (d === undefined) {
    fail(
      'recipient-missing-destination',
      `Recipient.destination is a oneof but is empty with ${unknownText(r)}`,
    );
  }
  switch (d.$case) {
    case 'contact': {
      const info = checkContact(d.contact);
      dups.contact(r.id, d.contact);
      return info;
    }
    case 'group':
      checkGroup(d.group);
      dups.group(r.id, d.group);
      return KIND_GROUP;
    case 'distributionList':
      checkDistributionList(d.distributionList, st);
      dups.distributionList(r.id, d.distributionList);
      return KIND_DISTRIBUTION_LIST;
    case 'self':
      dups.self(r.id);
      return KIND_SELF;
    case 'releaseNotes':
      dups.releaseNotes(r.id);
      return KIND_RELEASE_NOTES;
    case 'callLink':
      checkCallLink(d.callLink);
      dups.callLink(r.id, d.callLink);
      return KIND_CALL_LINK;
  }
}
