import { emptyRecipient } from './frames.ts';
import type {
  AccountModel,
  AttachmentModel,
  ChatModel,
  MessageModel,
  RecipientModel,
  StickerModel,
  StickerPackModel,
} from './model.ts';
import { SeededRandom } from './rng.ts';

/** Where generated history goes. Browser-safe: the web app can implement it over IndexedDB. */
export interface HistorySink {
  setAccount(a: AccountModel): void | Promise<void>;
  addRecipient(r: RecipientModel): void | Promise<void>;
  addChat(c: ChatModel): void | Promise<void>;
  addStickerPack(p: StickerPackModel): void | Promise<void>;
  /** Called before the first message that uses the file. */
  addMedia(plaintextHash: Uint8Array, bytes: Uint8Array, thumbnail: Uint8Array | null): void | Promise<void>;
  addMessage(m: MessageModel): void | Promise<void>;
}

export interface GenerateOptions {
  chats: number;
  messages: number;
  /** Number of distinct attachment media files (sticker images come on top: at most 8 small files). */
  media: number;
  seed: number | string;
  /** Average size of one attachment in bytes (default 64 KiB). */
  mediaSize?: number;
  /** Time of the first message, ms since epoch (default 2025-01-01T00:00:00Z). */
  startMs?: number;
  /** SHA-256, synchronous (node:crypto in Node, a JS implementation in browsers). */
  sha256: (bytes: Uint8Array) => Uint8Array;
}

export interface GenerateSummary {
  recipients: number;
  chats: number;
  messages: number;
  mediaFiles: number;
  mediaBytes: number;
  lastMessageAt: number;
}

const GIVEN = [
  'Ada',
  'Ben',
  'Chloé',
  'Dmitri',
  'Eun-ji',
  'Farah',
  'Goran',
  'Hana',
  'Idris',
  'Jun',
  'Kemal',
  'Lucía',
];
const FAMILY = [
  'Okafor',
  'Nguyen',
  'Müller',
  'Silva',
  'Kowalski',
  'Tanaka',
  'Haddad',
  'Rossi',
  'Novak',
  'Larsen',
];
const WORDS = (
  'the a to and of you it is that in for on we this be have are with at not but so just was can ' +
  'lunch tomorrow photo train meeting coffee tonight great thanks sure late weekend call later ok ' +
  'really maybe movie dinner home work party beach snow book music game park birthday 🎉 😂 ❤️ 👍'
).split(' ');
const EMOJI = ['👍', '❤️', '😂', '😮', '😢', '🙏', '🔥'];
const GROUP_TITLES = ['Family', 'Climbing crew', 'Book club', 'Flatmates', 'Project X', 'Football', 'Choir'];

/** A UUID-shaped 16-byte id (version 4 bits set) from the seeded generator. */
function uuidBytes(rng: SeededRandom): Uint8Array {
  const b = rng.bytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return b;
}

function sentence(rng: SeededRandom, min: number, max: number): string {
  const n = min + rng.int(max - min + 1);
  const w: string[] = [];
  for (let i = 0; i < n; i++) w.push(rng.pick(WORDS));
  const s = w.join(' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function attachment(
  rng: SeededRandom,
  role: AttachmentModel['role'],
  hash: Uint8Array,
  key: Uint8Array,
  size: number,
  contentType: string,
): AttachmentModel {
  const image = contentType.startsWith('image/');
  return {
    role,
    plaintextHash: hash,
    key,
    size,
    contentType,
    fileName: role === 'attachment' && !image ? `file-${rng.int(1e6)}.pdf` : null,
    width: image ? 320 + rng.int(3000) : null,
    height: image ? 240 + rng.int(3000) : null,
    caption: null,
    blurHash: image ? 'LEHV6nWB2yk8pyo0adR*.7kCMdnj' : null,
    incrementalMac: null,
    incrementalMacChunkSize: null,
    transitCdnKey: null,
    transitCdnNumber: null,
    transitTierUploadTimestamp: null,
    mediaTierCdnNumber: null,
    flag: 0,
    wasDownloaded: true,
    // Sticker.data is a bare FilePointer (no MessageAttachment), so it carries no client UUID.
    clientUuid: role === 'attachment' ? uuidBytes(rng) : null,
  };
}

/**
 * Generates a deterministic chat history: the same options give the same history, byte for byte.
 * Messages are spread over the chats (some busier than others) with quotes, reactions, edits,
 * stickers, remote deletions and `media` attachments evenly spread over the timeline.
 */
export async function generateHistory(opts: GenerateOptions, sink: HistorySink): Promise<GenerateSummary> {
  if (opts.chats < 1) throw new RangeError('generateHistory: chats must be at least 1');
  if (opts.messages < 0 || opts.media < 0) throw new RangeError('generateHistory: counts must be >= 0');
  const rng = new SeededRandom(opts.seed);
  const mediaSize = opts.mediaSize ?? 64 * 1024;
  let t = opts.startMs ?? Date.UTC(2025, 0, 1);

  await sink.setAccount({
    profileKey: rng.bytes(32),
    username: `alex.${10 + rng.int(90)}`,
    givenName: 'Alex',
    familyName: 'Example',
    settings: {
      readReceipts: true,
      sealedSenderIndicators: false,
      typingIndicators: true,
      linkPreviews: true,
      universalExpireTimerSeconds: 0,
      preferredReactionEmoji: EMOJI.slice(0, 6),
      phoneNumberSharingMode: 2,
      appTheme: 1,
      defaultSentMediaQuality: 1,
      callsUseLessDataSetting: 1,
      autoDownload: [2, 2, 1, 1],
    },
  });

  const SELF = 1;
  await sink.addRecipient({ id: SELF, kind: 'self', ...emptyRecipient });

  const groupChats = opts.chats >= 4 ? Math.floor(opts.chats / 4) : 0;
  const directChats = opts.chats - groupChats;
  const contactCount = Math.max(directChats, 6);
  const contacts: RecipientModel[] = [];
  for (let i = 0; i < contactCount; i++) {
    const c: RecipientModel = {
      ...emptyRecipient,
      id: 2 + i,
      kind: 'contact',
      aci: uuidBytes(rng),
      e164: 15550100000 + i,
      profileKey: rng.bytes(32),
      givenName: rng.pick(GIVEN),
      familyName: rng.pick(FAMILY),
      profileSharing: true,
      members: [],
    };
    contacts.push(c);
    await sink.addRecipient(c);
  }
  const groups: RecipientModel[] = [];
  for (let i = 0; i < groupChats; i++) {
    const memberIdx = new Set<number>();
    const size = 2 + rng.int(Math.min(6, contacts.length - 1));
    while (memberIdx.size < size) memberIdx.add(rng.int(contacts.length));
    const g: RecipientModel = {
      ...emptyRecipient,
      id: 2 + contactCount + i,
      kind: 'group',
      masterKey: rng.bytes(32),
      title: `${GROUP_TITLES[i % GROUP_TITLES.length]}${i >= GROUP_TITLES.length ? ` ${i}` : ''}`,
      groupVersion: 1 + rng.int(20),
      profileSharing: true,
      members: [...memberIdx].map((k) => ({
        userId: contacts[k]!.aci!,
        role: 1 + rng.int(2),
        joinedAtVersion: 0,
      })),
    };
    groups.push(g);
    await sink.addRecipient(g);
  }

  interface ChatInfo {
    id: number;
    authors: number[];
    last: { dateSent: number; authorId: number; body: string | null } | null;
  }
  const chats: ChatInfo[] = [];
  for (let i = 0; i < opts.chats; i++) {
    const isGroup = i >= directChats;
    const recipient = isGroup ? groups[i - directChats]! : contacts[i]!;
    const authors = isGroup
      ? recipient.members.map((m) => contacts.find((c) => c.aci === m.userId)!.id)
      : [recipient.id];
    await sink.addChat({
      id: i + 1,
      recipientId: recipient.id,
      archived: i % 9 === 8,
      pinnedOrder: i < 2 ? i + 1 : null,
      muteUntilMs: i % 7 === 6 ? 9223372036854775807n : null,
      markedUnread: i % 5 === 4,
      expirationTimerMs: null,
    });
    chats.push({ id: i + 1, authors, last: null });
  }

  // spec Backup.proto Sticker: stickers are also backed up as normal attachments.
  const packs: Array<
    StickerPackModel & { stickers: Array<{ hash: Uint8Array; key: Uint8Array; size: number }> }
  > = [];
  let mediaFiles = 0;
  let mediaBytes = 0;
  if (opts.messages >= 100) {
    for (let p = 0; p < 2; p++) {
      const pack = {
        packId: rng.bytes(16),
        packKey: rng.bytes(32),
        stickers: [] as (typeof packs)[0]['stickers'],
      };
      for (let s = 0; s < 4; s++) {
        const bytes = rng.bytes(1024 + rng.int(4096));
        const hash = opts.sha256(bytes);
        await sink.addMedia(hash, bytes, null);
        mediaFiles++;
        mediaBytes += bytes.length;
        pack.stickers.push({ hash, key: rng.bytes(64), size: bytes.length });
      }
      packs.push(pack);
      await sink.addStickerPack({ packId: pack.packId, packKey: pack.packKey });
    }
  }

  // Busier chats: a skewed pick (square of a uniform) favours the first chats.
  const pickChat = (): ChatInfo => chats[Math.floor(rng.next() ** 2 * chats.length)]!;
  let attached = 0;
  for (let i = 0; i < opts.messages; i++) {
    const chat = pickChat();
    t += 1 + rng.int(30_000);
    const outgoing = rng.next() < 0.4;
    const authorId = outgoing ? SELF : rng.pick(chat.authors);
    const roll = rng.next();
    const m: MessageModel = {
      chatId: chat.id,
      authorId,
      dateSent: t,
      kind: 'standard',
      outgoing,
      dateReceived: outgoing ? t : t + 50 + rng.int(3000),
      dateServerSent: outgoing ? null : t + 20 + rng.int(40),
      read: true,
      sealedSender: !outgoing,
      body: null,
      quote: null,
      sticker: null,
      reactions: [],
      revisions: [],
      attachments: [],
    };
    const wantsMedia = Math.floor(((i + 1) * opts.media) / Math.max(1, opts.messages)) > attached;
    if (wantsMedia) {
      // Sizes vary +-50% around the average, deterministic.
      const size = Math.max(1, Math.round(mediaSize * (0.5 + rng.next())));
      const bytes = rng.bytes(size);
      const hash = opts.sha256(bytes);
      const image = rng.next() < 0.85;
      const thumb = image ? rng.bytes(Math.min(2048, 256 + (size >> 6))) : null;
      await sink.addMedia(hash, bytes, thumb);
      mediaFiles++;
      mediaBytes += size;
      attached++;
      m.attachments.push(
        attachment(rng, 'attachment', hash, rng.bytes(64), size, image ? 'image/jpeg' : 'application/pdf'),
      );
      if (rng.next() < 0.5) m.body = sentence(rng, 1, 8);
    } else if (packs.length > 0 && roll < 0.01) {
      const pack = rng.pick(packs);
      const k = rng.int(pack.stickers.length);
      const st = pack.stickers[k]!;
      const sticker: StickerModel = {
        packId: pack.packId,
        packKey: pack.packKey,
        stickerId: k,
        emoji: rng.pick(EMOJI),
      };
      m.kind = 'sticker';
      m.sticker = sticker;
      m.attachments.push(attachment(rng, 'sticker', st.hash, st.key, st.size, 'image/webp'));
    } else if (roll < 0.015) {
      m.kind = 'deleted';
    } else {
      m.body = sentence(rng, 1, 18);
      if (roll > 0.96 && chat.last && chat.last.body !== null) {
        m.quote = {
          targetSentTimestamp: chat.last.dateSent,
          authorId: chat.last.authorId,
          body: chat.last.body,
          type: 1,
        };
      }
      if (roll > 0.5 && roll < 0.515) {
        const edits = 1 + rng.int(2);
        for (let e = edits; e > 0; e--) {
          m.revisions.push({
            dateSent: t - e * 1000,
            dateReceived: t - e * 1000 + 10,
            body: sentence(rng, 1, 10),
          });
        }
      }
    }
    if (m.kind !== 'deleted' && rng.next() < 0.08) {
      const n = 1 + rng.int(3);
      const who = [SELF, ...chat.authors];
      const used = new Set<number>();
      for (let r = 0; r < n; r++) {
        const a = rng.pick(who);
        if (used.has(a)) continue;
        used.add(a);
        m.reactions.push({
          emoji: rng.pick(EMOJI),
          authorId: a,
          sentTimestamp: t + 1000 * (r + 1),
          sortOrder: r + 1,
        });
      }
    }
    chat.last = { dateSent: t, authorId, body: m.body };
    await sink.addMessage(m);
  }
  return {
    recipients: 1 + contacts.length + groups.length,
    chats: chats.length,
    messages: opts.messages,
    mediaFiles,
    mediaBytes,
    lastMessageAt: t,
  };
}
