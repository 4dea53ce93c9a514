import type Database from 'better-sqlite3';
import type { AccountModel, ChatModel, MessageModel, RecipientModel, StickerPackModel } from './model.ts';

const b = (v: boolean): number => (v ? 1 : 0);

/**
 * Inserts model rows with prepared statements. The caller owns the transaction (the generator and
 * the importer batch thousands of rows per transaction: that is what makes 1M messages fast).
 */
export class SqliteWriter {
  readonly #db: Database.Database;
  readonly #account: Database.Statement;
  readonly #recipient: Database.Statement;
  readonly #member: Database.Statement;
  readonly #chat: Database.Statement;
  readonly #message: Database.Statement;
  readonly #reaction: Database.Statement;
  readonly #revision: Database.Statement;
  readonly #attachment: Database.Statement;
  readonly #stickerPack: Database.Statement;

  constructor(db: Database.Database) {
    this.#db = db;
    this.#account = db.prepare(
      'INSERT OR REPLACE INTO account (id, profile_key, username, given_name, family_name, settings) VALUES (1, ?, ?, ?, ?, ?)',
    );
    this.#recipient = db.prepare(
      `INSERT INTO recipients (id, kind, aci, pni, e164, username, profile_key, given_name, family_name,
        blocked, profile_sharing, master_key, title, group_version) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    );
    this.#member = db.prepare(
      'INSERT INTO group_members (group_id, seq, user_id, role, joined_at_version) VALUES (?,?,?,?,?)',
    );
    this.#chat = db.prepare(
      `INSERT INTO chats (id, recipient_id, archived, pinned_order, mute_until_ms, marked_unread, expiration_timer_ms)
       VALUES (?,?,?,?,?,?,?)`,
    );
    this.#message = db.prepare(
      `INSERT INTO messages (chat_id, author_id, date_sent, kind, outgoing, date_received, date_server_sent, read,
        sealed_sender, body, quote_target_ts, quote_author_id, quote_body, quote_type, sticker_pack_id,
        sticker_pack_key, sticker_id, sticker_emoji) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    );
    this.#reaction = db.prepare(
      'INSERT INTO reactions (message_id, seq, emoji, author_id, sent_ts, sort_order) VALUES (?,?,?,?,?,?)',
    );
    this.#revision = db.prepare(
      'INSERT INTO revisions (message_id, seq, date_sent, date_received, body) VALUES (?,?,?,?,?)',
    );
    this.#attachment = db.prepare(
      `INSERT INTO attachments (message_id, seq, role, plaintext_hash, key, size, content_type, file_name, width,
        height, caption, blur_hash, incremental_mac, incremental_mac_chunk_size, transit_cdn_key, transit_cdn_number,
        transit_upload_ts, media_tier_cdn, flag, was_downloaded, client_uuid)
       VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
    );
    this.#stickerPack = db.prepare('INSERT OR REPLACE INTO sticker_packs (pack_id, pack_key) VALUES (?, ?)');
  }

  begin(): void {
    this.#db.exec('BEGIN');
  }

  commit(): void {
    this.#db.exec('COMMIT');
  }

  setAccount(a: AccountModel): void {
    this.#account.run(a.profileKey, a.username, a.givenName, a.familyName, JSON.stringify(a.settings));
  }

  addRecipient(r: RecipientModel): void {
    this.#recipient.run(
      r.id,
      r.kind,
      r.aci,
      r.pni,
      r.e164,
      r.username,
      r.profileKey,
      r.givenName,
      r.familyName,
      b(r.blocked),
      b(r.profileSharing),
      r.masterKey,
      r.title,
      r.groupVersion,
    );
    r.members.forEach((m, i) => {
      this.#member.run(r.id, i, m.userId, m.role, m.joinedAtVersion);
    });
  }

  addChat(c: ChatModel): void {
    this.#chat.run(
      c.id,
      c.recipientId,
      b(c.archived),
      c.pinnedOrder,
      c.muteUntilMs === null ? null : c.muteUntilMs.toString(),
      b(c.markedUnread),
      c.expirationTimerMs,
    );
  }

  addStickerPack(p: StickerPackModel): void {
    this.#stickerPack.run(p.packId, p.packKey);
  }

  /** Inserts a message with its reactions, revisions and attachments; returns its id. */
  addMessage(m: MessageModel): number {
    const q = m.quote;
    const s = m.sticker;
    const id = Number(
      this.#message.run(
        m.chatId,
        m.authorId,
        m.dateSent,
        m.kind,
        b(m.outgoing),
        m.dateReceived,
        m.dateServerSent,
        b(m.read),
        b(m.sealedSender),
        m.body,
        q?.targetSentTimestamp ?? null,
        q?.authorId ?? null,
        q?.body ?? null,
        q?.type ?? null,
        s?.packId ?? null,
        s?.packKey ?? null,
        s?.stickerId ?? null,
        s?.emoji ?? null,
      ).lastInsertRowid,
    );
    for (let i = 0; i < m.reactions.length; i++) {
      const r = m.reactions[i]!;
      this.#reaction.run(id, i, r.emoji, r.authorId, r.sentTimestamp, r.sortOrder);
    }
    for (let i = 0; i < m.revisions.length; i++) {
      const r = m.revisions[i]!;
      this.#revision.run(id, i, r.dateSent, r.dateReceived, r.body);
    }
    for (let i = 0; i < m.attachments.length; i++) {
      const a = m.attachments[i]!;
      this.#attachment.run(
        id,
        i,
        a.role,
        a.plaintextHash,
        a.key,
        a.size,
        a.contentType,
        a.fileName,
        a.width,
        a.height,
        a.caption,
        a.blurHash,
        a.incrementalMac,
        a.incrementalMacChunkSize,
        a.transitCdnKey,
        a.transitCdnNumber,
        a.transitTierUploadTimestamp,
        a.mediaTierCdnNumber,
        a.flag,
        b(a.wasDownloaded),
        a.clientUuid,
      );
    }
    return id;
  }
}
