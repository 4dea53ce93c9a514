import type { BackupProto, ChatItem, FilePointer, Frame } from '@coffer/format';
import type {
  AccountModel,
  AttachmentModel,
  ChatModel,
  MessageModel,
  ReactionModel,
  RecipientModel,
  RevisionModel,
  StickerPackModel,
} from './model.ts';

// Mapping between the store model and Backup.proto frames (ts-proto types from @coffer/format).
// ts-proto messages need every non-optional field present, so the builders below spell them out.

type Reaction = BackupProto.Reaction;

const none = undefined;
const orNone = <T>(v: T | null): T | undefined => (v === null ? undefined : v);
const big = (v: number): bigint => BigInt(v);
const bigOrNone = (v: number | null): bigint | undefined => (v === null ? undefined : BigInt(v));
const numOrNull = (v: bigint | number | undefined): number | null => (v === undefined ? null : Number(v));
const strOrNull = (v: string | undefined): string | null => (v === undefined ? null : v);
const u8OrNull = (v: Uint8Array | undefined): Uint8Array | null => (v === undefined ? null : v);

// ---------------------------------------------------------------- model -> frames

export function accountFrame(a: AccountModel): Frame {
  const s = a.settings;
  return {
    item: {
      $case: 'account',
      account: {
        profileKey: a.profileKey,
        username: orNone(a.username),
        usernameLink: none,
        givenName: a.givenName,
        familyName: a.familyName,
        avatarUrlPath: '',
        donationSubscriberData: none,
        accountSettings: {
          readReceipts: s.readReceipts,
          sealedSenderIndicators: s.sealedSenderIndicators,
          typingIndicators: s.typingIndicators,
          linkPreviews: s.linkPreviews,
          notDiscoverableByPhoneNumber: false,
          preferContactAvatars: false,
          universalExpireTimerSeconds: s.universalExpireTimerSeconds,
          preferredReactionEmoji: s.preferredReactionEmoji,
          displayBadgesOnProfile: false,
          keepMutedChatsArchived: false,
          hasSetMyStoriesPrivacy: false,
          hasViewedOnboardingStory: false,
          storiesDisabled: false,
          hasSeenGroupStoryEducationSheet: false,
          hasCompletedUsernameOnboarding: false,
          phoneNumberSharingMode: s.phoneNumberSharingMode,
          defaultChatStyle: none,
          customChatColors: [],
          optimizeOnDeviceStorage: false,
          defaultSentMediaQuality: s.defaultSentMediaQuality,
          autoDownloadSettings: {
            images: s.autoDownload[0],
            audio: s.autoDownload[1],
            video: s.autoDownload[2],
            documents: s.autoDownload[3],
          },
          appTheme: s.appTheme,
          callsUseLessDataSetting: s.callsUseLessDataSetting,
          allowSealedSenderFromAnyone: false,
          allowAutomaticKeyVerification: false,
          hasSeenAdminDeleteEducationDialog: false,
        },
        backupsSubscriberData: none,
        svrPin: '',
        androidSpecificSettings: none,
        bioText: '',
        bioEmoji: '',
        iosSpecificSettings: none,
      },
    },
  };
}

export function recipientFrame(r: RecipientModel): Frame {
  const id = big(r.id);
  switch (r.kind) {
    case 'self':
      return { item: { $case: 'recipient', recipient: { id, destination: { $case: 'self', self: {} } } } };
    case 'releaseNotes':
      return {
        item: {
          $case: 'recipient',
          recipient: { id, destination: { $case: 'releaseNotes', releaseNotes: {} } },
        },
      };
    case 'contact':
      return {
        item: {
          $case: 'recipient',
          recipient: {
            id,
            destination: {
              $case: 'contact',
              contact: {
                aci: orNone(r.aci),
                pni: orNone(r.pni),
                username: orNone(r.username),
                e164: bigOrNone(r.e164),
                blocked: r.blocked,
                visibility: 0,
                registration: { $case: 'registered', registered: {} },
                profileKey: orNone(r.profileKey),
                profileSharing: r.profileSharing,
                profileGivenName: orNone(r.givenName),
                profileFamilyName: orNone(r.familyName),
                hideStory: false,
                identityKey: none,
                identityState: 0,
                nickname: none,
                note: '',
                systemGivenName: '',
                systemFamilyName: '',
                systemNickname: '',
                avatarColor: none,
                keyTransparencyData: none,
                blockedAtTimestamp: 0n,
              },
            },
          },
        },
      };
    case 'group':
      return {
        item: {
          $case: 'recipient',
          recipient: {
            id,
            destination: {
              $case: 'group',
              group: {
                masterKey: r.masterKey ?? new Uint8Array(32),
                whitelisted: r.profileSharing,
                hideStory: false,
                storySendMode: 0,
                snapshot: {
                  title: { content: { $case: 'title', title: r.title ?? '' } },
                  description: none,
                  avatarUrl: '',
                  disappearingMessagesTimer: none,
                  // Members may edit attributes and add members; invite links are off.
                  accessControl: { attributes: 2, members: 2, addFromInviteLink: 4, memberLabel: 2 },
                  version: r.groupVersion ?? 0,
                  members: r.members.map((m) => ({
                    userId: m.userId,
                    role: m.role,
                    joinedAtVersion: m.joinedAtVersion,
                    labelEmoji: '',
                    labelString: '',
                  })),
                  membersPendingProfileKey: [],
                  membersPendingAdminApproval: [],
                  inviteLinkPassword: new Uint8Array(0),
                  announcementsOnly: false,
                  membersBanned: [],
                  terminated: false,
                },
                blocked: r.blocked,
                avatarColor: none,
                blockedAtTimestamp: 0n,
              },
            },
          },
        },
      };
  }
}

export function chatFrame(c: ChatModel): Frame {
  return {
    item: {
      $case: 'chat',
      chat: {
        id: big(c.id),
        recipientId: big(c.recipientId),
        archived: c.archived,
        pinnedOrder: orNone(c.pinnedOrder),
        expirationTimerMs: bigOrNone(c.expirationTimerMs),
        muteUntilMs: orNone(c.muteUntilMs),
        markedUnread: c.markedUnread,
        dontNotifyForMentionsIfMuted: false,
        style: none,
        expireTimerVersion: 0,
      },
    },
  };
}

export function stickerPackFrame(p: StickerPackModel): Frame {
  return { item: { $case: 'stickerPack', stickerPack: { packId: p.packId, packKey: p.packKey } } };
}

function filePointer(a: AttachmentModel): FilePointer {
  return {
    contentType: orNone(a.contentType),
    incrementalMac: orNone(a.incrementalMac),
    incrementalMacChunkSize: orNone(a.incrementalMacChunkSize),
    fileName: orNone(a.fileName),
    width: orNone(a.width),
    height: orNone(a.height),
    caption: orNone(a.caption),
    blurHash: orNone(a.blurHash),
    // spec 3.5 / 5.2: plaintextHash + key, the media name is recomputed from them.
    locatorInfo: {
      key: a.key,
      integrityCheck: { $case: 'plaintextHash', plaintextHash: a.plaintextHash },
      size: a.size,
      transitCdnKey: orNone(a.transitCdnKey),
      transitCdnNumber: orNone(a.transitCdnNumber),
      transitTierUploadTimestamp: bigOrNone(a.transitTierUploadTimestamp),
      mediaTierCdnNumber: orNone(a.mediaTierCdnNumber),
      localKey: none,
    },
  };
}

const reaction = (r: ReactionModel): Reaction => ({
  emoji: r.emoji,
  authorId: big(r.authorId),
  sentTimestamp: big(r.sentTimestamp),
  sortOrder: big(r.sortOrder),
});

function directional(m: MessageModel, dateReceived: number): ChatItem['directionalDetails'] {
  return m.outgoing
    ? { $case: 'outgoing', outgoing: { sendStatus: [], dateReceived: big(dateReceived) } }
    : {
        $case: 'incoming',
        incoming: {
          dateReceived: big(dateReceived),
          dateServerSent: bigOrNone(m.dateServerSent),
          read: m.read,
          sealedSender: m.sealedSender,
        },
      };
}

const text = (body: string | null) => (body === null ? none : { body, bodyRanges: [] });

export function chatItemFrame(m: MessageModel): Frame {
  let item: ChatItem['item'];
  const attachments = m.attachments.filter((a) => a.role === 'attachment');
  if (m.kind === 'deleted') {
    item = { $case: 'remoteDeletedMessage', remoteDeletedMessage: {} };
  } else if (m.kind === 'sticker' && m.sticker) {
    const data = m.attachments.find((a) => a.role === 'sticker');
    item = {
      $case: 'stickerMessage',
      stickerMessage: {
        sticker: {
          packId: m.sticker.packId,
          packKey: m.sticker.packKey,
          stickerId: m.sticker.stickerId,
          emoji: orNone(m.sticker.emoji),
          data: data ? filePointer(data) : none,
        },
        reactions: m.reactions.map(reaction),
      },
    };
  } else {
    item = {
      $case: 'standardMessage',
      standardMessage: {
        quote: m.quote
          ? {
              targetSentTimestamp: bigOrNone(m.quote.targetSentTimestamp),
              authorId: big(m.quote.authorId),
              text: text(m.quote.body),
              attachments: [],
              type: m.quote.type,
            }
          : none,
        text: text(m.body),
        attachments: attachments.map((a) => ({
          pointer: filePointer(a),
          flag: a.flag,
          wasDownloaded: a.wasDownloaded,
          clientUuid: orNone(a.clientUuid),
        })),
        linkPreview: [],
        longText: none,
        reactions: m.reactions.map(reaction),
      },
    };
  }
  return {
    item: {
      $case: 'chatItem',
      chatItem: {
        chatId: big(m.chatId),
        authorId: big(m.authorId),
        dateSent: big(m.dateSent),
        expireStartDate: none,
        expiresInMs: none,
        sms: false,
        // spec Backup.proto ChatItem.revisions: earlier versions, oldest first, never nested.
        revisions: m.revisions.map((r) => revisionItem(m, r)),
        directionalDetails: directional(m, m.dateReceived),
        pinDetails: none,
        item,
      },
    },
  };
}

// Written out field by field, not as `{ ...base, ... }`: on Node 20 an object built by spread in
// this per-message path survives young-generation collections, so a 1M-message export promoted
// about 4 MB per scavenge and the old generation swung between 10 and 60-75 MB of garbage
// (bench/README.md, performance notes > Memory).
function revisionItem(m: MessageModel, r: RevisionModel): ChatItem {
  return {
    chatId: big(m.chatId),
    authorId: big(m.authorId),
    dateSent: big(r.dateSent),
    expireStartDate: none,
    expiresInMs: none,
    sms: false,
    revisions: [],
    directionalDetails: directional(m, r.dateReceived),
    pinDetails: none,
    item: {
      $case: 'standardMessage',
      standardMessage: {
        quote: none,
        text: text(r.body),
        attachments: [],
        linkPreview: [],
        longText: none,
        reactions: [],
      },
    },
  };
}

// ---------------------------------------------------------------- frames -> model

export type ImportedRow =
  | { kind: 'account'; account: AccountModel }
  | { kind: 'recipient'; recipient: RecipientModel }
  | { kind: 'chat'; chat: ChatModel }
  | { kind: 'stickerPack'; stickerPack: StickerPackModel }
  | { kind: 'message'; message: MessageModel }
  | { kind: 'skipped'; what: string };

export function accountFromFrame(a: BackupProto.AccountData): AccountModel {
  const s = a.accountSettings;
  const ad = s?.autoDownloadSettings;
  return {
    profileKey: a.profileKey,
    username: strOrNull(a.username),
    givenName: a.givenName,
    familyName: a.familyName,
    settings: {
      readReceipts: s?.readReceipts ?? false,
      sealedSenderIndicators: s?.sealedSenderIndicators ?? false,
      typingIndicators: s?.typingIndicators ?? false,
      linkPreviews: s?.linkPreviews ?? false,
      universalExpireTimerSeconds: s?.universalExpireTimerSeconds ?? 0,
      preferredReactionEmoji: s?.preferredReactionEmoji ?? [],
      phoneNumberSharingMode: s?.phoneNumberSharingMode ?? 2,
      appTheme: s?.appTheme ?? 1,
      defaultSentMediaQuality: s?.defaultSentMediaQuality ?? 1,
      callsUseLessDataSetting: s?.callsUseLessDataSetting ?? 1,
      autoDownload: [ad?.images ?? 1, ad?.audio ?? 1, ad?.video ?? 1, ad?.documents ?? 1],
    },
  };
}

/** The contact and group fields of a recipient, all unset (self, release notes; spread, then fill in). */
export const emptyRecipient = {
  aci: null,
  pni: null,
  e164: null,
  username: null,
  profileKey: null,
  givenName: null,
  familyName: null,
  blocked: false,
  profileSharing: false,
  masterKey: null,
  title: null,
  groupVersion: null,
  members: [],
} satisfies Omit<RecipientModel, 'id' | 'kind'>;

export function recipientFromFrame(r: BackupProto.Recipient): RecipientModel | undefined {
  const id = Number(r.id);
  const d = r.destination;
  switch (d?.$case) {
    case 'self':
      return { id, kind: 'self', ...emptyRecipient };
    case 'releaseNotes':
      return { id, kind: 'releaseNotes', ...emptyRecipient };
    case 'contact': {
      const c = d.contact;
      return {
        ...emptyRecipient,
        id,
        kind: 'contact',
        aci: u8OrNull(c.aci),
        pni: u8OrNull(c.pni),
        e164: numOrNull(c.e164),
        username: strOrNull(c.username),
        profileKey: u8OrNull(c.profileKey),
        givenName: strOrNull(c.profileGivenName),
        familyName: strOrNull(c.profileFamilyName),
        blocked: c.blocked,
        profileSharing: c.profileSharing,
      };
    }
    case 'group': {
      const g = d.group;
      const title = g.snapshot?.title?.content;
      return {
        ...emptyRecipient,
        id,
        kind: 'group',
        masterKey: g.masterKey,
        title: title?.$case === 'title' ? title.title : null,
        groupVersion: g.snapshot?.version ?? null,
        blocked: g.blocked,
        profileSharing: g.whitelisted,
        members: (g.snapshot?.members ?? []).map((m) => ({
          userId: m.userId,
          role: m.role,
          joinedAtVersion: m.joinedAtVersion,
        })),
      };
    }
    default:
      return undefined;
  }
}

export function chatFromFrame(c: BackupProto.Chat): ChatModel {
  return {
    id: Number(c.id),
    recipientId: Number(c.recipientId),
    archived: c.archived,
    pinnedOrder: c.pinnedOrder ?? null,
    muteUntilMs: c.muteUntilMs ?? null,
    markedUnread: c.markedUnread,
    expirationTimerMs: numOrNull(c.expirationTimerMs),
  };
}

function attachmentFromPointer(
  p: FilePointer | undefined,
  role: AttachmentModel['role'],
  extra: { flag: number; wasDownloaded: boolean; clientUuid: Uint8Array | null },
): AttachmentModel | undefined {
  const l = p?.locatorInfo;
  // The reference store keeps media by plaintext hash; pointers without one (never downloaded) are dropped.
  if (!p || !l || l.integrityCheck?.$case !== 'plaintextHash') return undefined;
  return {
    role,
    plaintextHash: l.integrityCheck.plaintextHash,
    key: l.key,
    size: l.size,
    contentType: strOrNull(p.contentType),
    fileName: strOrNull(p.fileName),
    width: p.width ?? null,
    height: p.height ?? null,
    caption: strOrNull(p.caption),
    blurHash: strOrNull(p.blurHash),
    incrementalMac: u8OrNull(p.incrementalMac),
    incrementalMacChunkSize: p.incrementalMacChunkSize ?? null,
    transitCdnKey: strOrNull(l.transitCdnKey),
    transitCdnNumber: l.transitCdnNumber ?? null,
    transitTierUploadTimestamp: numOrNull(l.transitTierUploadTimestamp),
    mediaTierCdnNumber: l.mediaTierCdnNumber ?? null,
    // Not `...extra`: spread objects in per-frame paths survive scavenges on Node 20 (see revisionItem).
    flag: extra.flag,
    wasDownloaded: extra.wasDownloaded,
    clientUuid: extra.clientUuid,
  };
}

const reactionFrom = (r: Reaction): ReactionModel => ({
  emoji: r.emoji,
  authorId: Number(r.authorId),
  sentTimestamp: Number(r.sentTimestamp),
  sortOrder: Number(r.sortOrder),
});

export function messageFromFrame(ci: ChatItem): MessageModel | undefined {
  const dd = ci.directionalDetails;
  if (dd?.$case !== 'incoming' && dd?.$case !== 'outgoing') return undefined;
  const incoming = dd.$case === 'incoming' ? dd.incoming : undefined;
  const m: MessageModel = {
    chatId: Number(ci.chatId),
    authorId: Number(ci.authorId),
    dateSent: Number(ci.dateSent),
    kind: 'standard',
    outgoing: dd.$case === 'outgoing',
    dateReceived: Number(dd.$case === 'incoming' ? dd.incoming.dateReceived : dd.outgoing.dateReceived),
    dateServerSent: numOrNull(incoming?.dateServerSent),
    read: incoming ? incoming.read : true,
    sealedSender: incoming ? incoming.sealedSender : false,
    body: null,
    quote: null,
    sticker: null,
    reactions: [],
    revisions: [],
    attachments: [],
  };
  const it = ci.item;
  switch (it?.$case) {
    case 'standardMessage': {
      const s = it.standardMessage;
      m.body = s.text ? s.text.body : null;
      m.quote = s.quote
        ? {
            targetSentTimestamp: numOrNull(s.quote.targetSentTimestamp),
            authorId: Number(s.quote.authorId),
            body: s.quote.text ? s.quote.text.body : null,
            type: s.quote.type,
          }
        : null;
      m.reactions = s.reactions.map(reactionFrom);
      for (const a of s.attachments) {
        const att = attachmentFromPointer(a.pointer, 'attachment', {
          flag: a.flag,
          wasDownloaded: a.wasDownloaded,
          clientUuid: u8OrNull(a.clientUuid),
        });
        if (att) m.attachments.push(att);
      }
      break;
    }
    case 'stickerMessage': {
      const st = it.stickerMessage.sticker;
      if (!st) return undefined;
      m.kind = 'sticker';
      m.sticker = {
        packId: st.packId,
        packKey: st.packKey,
        stickerId: st.stickerId,
        emoji: strOrNull(st.emoji),
      };
      m.reactions = it.stickerMessage.reactions.map(reactionFrom);
      const att = attachmentFromPointer(st.data, 'sticker', {
        flag: 0,
        wasDownloaded: true,
        clientUuid: null,
      });
      if (att) m.attachments.push(att);
      break;
    }
    case 'remoteDeletedMessage':
      m.kind = 'deleted';
      break;
    default:
      return undefined;
  }
  for (const r of ci.revisions) {
    const rd = r.directionalDetails;
    const body = r.item?.$case === 'standardMessage' ? r.item.standardMessage.text?.body : undefined;
    if (body === undefined) continue;
    const dateReceived =
      rd?.$case === 'incoming'
        ? rd.incoming.dateReceived
        : rd?.$case === 'outgoing'
          ? rd.outgoing.dateReceived
          : r.dateSent;
    m.revisions.push({ dateSent: Number(r.dateSent), dateReceived: Number(dateReceived), body });
  }
  return m;
}

/** Maps one frame to the row the reference store keeps, or says what it skipped. */
export function rowFromFrame(frame: Frame): ImportedRow {
  const it = frame.item;
  switch (it?.$case) {
    case 'account':
      return { kind: 'account', account: accountFromFrame(it.account) };
    case 'recipient': {
      const r = recipientFromFrame(it.recipient);
      return r ? { kind: 'recipient', recipient: r } : { kind: 'skipped', what: 'recipient' };
    }
    case 'chat':
      return { kind: 'chat', chat: chatFromFrame(it.chat) };
    case 'stickerPack':
      return {
        kind: 'stickerPack',
        stickerPack: { packId: it.stickerPack.packId, packKey: it.stickerPack.packKey },
      };
    case 'chatItem': {
      const m = messageFromFrame(it.chatItem);
      return m ? { kind: 'message', message: m } : { kind: 'skipped', what: 'chatItem' };
    }
    default:
      return { kind: 'skipped', what: it?.$case ?? 'empty' };
  }
}
