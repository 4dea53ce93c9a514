import type Database from 'better-sqlite3';
import type {
  AccountModel,
  AttachmentModel,
  ChatModel,
  MediaRef,
  MessageModel,
  ReactionModel,
  RecipientKind,
  RecipientModel,
  RevisionModel,
  StickerPackModel,
} from './model.ts';

type Row = Record<string, unknown>;

const u8 = (v: unknown): Uint8Array | null => (v == null ? null : new Uint8Array(v as Uint8Array));
const num = (v: unknown): number | null => (v == null ? null : Number(v));
const str = (v: unknown): string | null => (v == null ? null : String(v));

export function readAccount(db: Database.Database): AccountModel | undefined {
  const r = db.prepare('SELECT * FROM account WHERE id = 1').get() as Row | undefined;
  if (!r) return undefined;
  return {
    profileKey: u8(r.profile_key)!,
    username: str(r.username),
    givenName: String(r.given_name),
    familyName: String(r.family_name),
    settings: JSON.parse(String(r.settings)),
  };
}

export function* readRecipients(db: Database.Database): Generator<RecipientModel> {
  const members = new Map<number, RecipientModel['members']>();
  for (const m of db
    .prepare('SELECT * FROM group_members ORDER BY group_id, seq')
    .iterate() as Iterable<Row>) {
    const gid = Number(m.group_id);
    let list = members.get(gid);
    if (!list) {
      list = [];
      members.set(gid, list);
    }
    list.push({ userId: u8(m.user_id)!, role: Number(m.role), joinedAtVersion: Number(m.joined_at_version) });
  }
  for (const r of db.prepare('SELECT * FROM recipients ORDER BY id').iterate() as Iterable<Row>) {
    const id = Number(r.id);
    yield {
      id,
      kind: r.kind as RecipientKind,
      aci: u8(r.aci),
      pni: u8(r.pni),
      e164: num(r.e164),
      username: str(r.username),
      profileKey: u8(r.profile_key),
      givenName: str(r.given_name),
      familyName: str(r.family_name),
      blocked: r.blocked === 1,
      profileSharing: r.profile_sharing === 1,
      masterKey: u8(r.master_key),
      title: str(r.title),
      groupVersion: num(r.group_version),
      members: members.get(id) ?? [],
    };
  }
}

export function* readChats(db: Database.Database): Generator<ChatModel> {
  for (const r of db.prepare('SELECT * FROM chats ORDER BY id').iterate() as Iterable<Row>) {
    yield {
      id: Number(r.id),
      recipientId: Number(r.recipient_id),
      archived: r.archived === 1,
      pinnedOrder: num(r.pinned_order),
      muteUntilMs: r.mute_until_ms == null ? null : BigInt(String(r.mute_until_ms)),
      markedUnread: r.marked_unread === 1,
      expirationTimerMs: num(r.expiration_timer_ms),
    };
  }
}

export function* readStickerPacks(db: Database.Database): Generator<StickerPackModel> {
  for (const r of db.prepare('SELECT * FROM sticker_packs ORDER BY pack_id').iterate() as Iterable<Row>) {
    yield { packId: u8(r.pack_id)!, packKey: u8(r.pack_key)! };
  }
}

function attachmentFromRow(r: Row): AttachmentModel {
  return {
    role: r.role as AttachmentModel['role'],
    plaintextHash: u8(r.plaintext_hash)!,
    key: u8(r.key)!,
    size: Number(r.size),
    contentType: str(r.content_type),
    fileName: str(r.file_name),
    width: num(r.width),
    height: num(r.height),
    caption: str(r.caption),
    blurHash: str(r.blur_hash),
    incrementalMac: u8(r.incremental_mac),
    incrementalMacChunkSize: num(r.incremental_mac_chunk_size),
    transitCdnKey: str(r.transit_cdn_key),
    transitCdnNumber: num(r.transit_cdn_number),
    transitTierUploadTimestamp: num(r.transit_upload_ts),
    mediaTierCdnNumber: num(r.media_tier_cdn),
    flag: Number(r.flag),
    wasDownloaded: r.was_downloaded === 1,
    clientUuid: u8(r.client_uuid),
  };
}

/** Walks a child table sorted by message_id in step with the messages (a merge join, no per-row query). */
class ChildCursor<T> {
  readonly #it: Iterator<Row>;
  #head: Row | undefined;
  readonly #map: (r: Row) => T;

  constructor(it: Iterable<Row>, map: (r: Row) => T) {
    this.#it = it[Symbol.iterator]();
    this.#map = map;
    this.#head = this.#advance();
  }

  #advance(): Row | undefined {
    const n = this.#it.next();
    return n.done ? undefined : n.value;
  }

  take(messageId: number): T[] {
    const out: T[] = [];
    while (this.#head !== undefined && Number(this.#head.message_id) <= messageId) {
      if (Number(this.#head.message_id) === messageId) out.push(this.#map(this.#head));
      this.#head = this.#advance();
    }
    return out;
  }

  close(): void {
    this.#it.return?.();
  }
}

const MESSAGE_COLUMNS =
  'id, chat_id, author_id, date_sent, kind, outgoing, date_received, date_server_sent, read, sealed_sender, ' +
  'body, quote_target_ts, quote_author_id, quote_body, quote_type, sticker_pack_id, sticker_pack_key, ' +
  'sticker_id, sticker_emoji';

/** All messages in render order with their children. Must be fully consumed or returned. */
export function* readMessages(db: Database.Database, chatId?: number): Generator<MessageModel> {
  const where =
    chatId === undefined ? '' : ' WHERE message_id IN (SELECT id FROM messages WHERE chat_id = ?)';
  const args = chatId === undefined ? [] : [chatId];
  const reactions = new ChildCursor<ReactionModel>(
    db.prepare(`SELECT * FROM reactions${where} ORDER BY message_id, seq`).iterate(...args) as Iterable<Row>,
    (r) => ({
      emoji: String(r.emoji),
      authorId: Number(r.author_id),
      sentTimestamp: Number(r.sent_ts),
      sortOrder: Number(r.sort_order),
    }),
  );
  const revisions = new ChildCursor<RevisionModel>(
    db.prepare(`SELECT * FROM revisions${where} ORDER BY message_id, seq`).iterate(...args) as Iterable<Row>,
    (r) => ({ dateSent: Number(r.date_sent), dateReceived: Number(r.date_received), body: String(r.body) }),
  );
  const attachments = new ChildCursor<AttachmentModel>(
    db
      .prepare(`SELECT * FROM attachments${where} ORDER BY message_id, seq`)
      .iterate(...args) as Iterable<Row>,
    attachmentFromRow,
  );
  // Raw rows (arrays) with an explicit column list: one row per message makes this the backup's
  // hottest loop, and better-sqlite3 builds a keyed object per row about 2x slower than an array
  // (bench/README.md, performance notes). Indexes below follow MESSAGE_COLUMNS.
  const msgSql =
    chatId === undefined
      ? `SELECT ${MESSAGE_COLUMNS} FROM messages ORDER BY id`
      : `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE chat_id = ? ORDER BY id`;
  try {
    for (const r of db
      .prepare(msgSql)
      .raw(true)
      .iterate(...args) as Iterable<unknown[]>) {
      const id = Number(r[0]);
      yield {
        chatId: Number(r[1]),
        authorId: Number(r[2]),
        dateSent: Number(r[3]),
        kind: r[4] as MessageModel['kind'],
        outgoing: r[5] === 1,
        dateReceived: Number(r[6]),
        dateServerSent: num(r[7]),
        read: r[8] === 1,
        sealedSender: r[9] === 1,
        body: str(r[10]),
        quote:
          r[12] == null
            ? null
            : {
                targetSentTimestamp: num(r[11]),
                authorId: Number(r[12]),
                body: str(r[13]),
                type: Number(r[14]),
              },
        sticker:
          r[15] == null
            ? null
            : {
                packId: u8(r[15])!,
                packKey: u8(r[16])!,
                stickerId: Number(r[17]),
                emoji: str(r[18]),
              },
        reactions: reactions.take(id),
        revisions: revisions.take(id),
        attachments: attachments.take(id),
      };
    }
  } finally {
    reactions.close();
    revisions.close();
    attachments.close();
  }
}

/** Distinct media (by plaintext hash and key), newest use first (restore order, spec 8 step 6). */
export function readMediaRefs(db: Database.Database): MediaRef[] {
  const rows = db
    .prepare(
      `SELECT a.plaintext_hash AS h, a.key AS k, MAX(a.size) AS size, MAX(a.content_type) AS ct,
              MAX(m.date_sent) AS last
         FROM attachments a JOIN messages m ON m.id = a.message_id
        GROUP BY a.plaintext_hash, a.key
        ORDER BY last DESC, a.plaintext_hash`,
    )
    .all() as Row[];
  return rows.map((r) => ({
    plaintextHash: u8(r.h)!,
    key: u8(r.k)!,
    size: Number(r.size),
    contentType: str(r.ct),
    lastUsedAt: Number(r.last),
  }));
}
