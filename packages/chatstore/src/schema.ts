/**
 * SQLite schema of the reference chat store. Version 1. Message ids are the render order
 * (Backup.proto frame rule 3: ChatItems in global render order), so export is `ORDER BY id`.
 */
export const SCHEMA_VERSION = 1;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS account (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  profile_key BLOB NOT NULL,
  username TEXT,
  given_name TEXT NOT NULL,
  family_name TEXT NOT NULL,
  settings TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS recipients (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  aci BLOB, pni BLOB, e164 INTEGER, username TEXT, profile_key BLOB,
  given_name TEXT, family_name TEXT,
  blocked INTEGER NOT NULL DEFAULT 0,
  profile_sharing INTEGER NOT NULL DEFAULT 0,
  master_key BLOB, title TEXT, group_version INTEGER
);
CREATE TABLE IF NOT EXISTS group_members (
  group_id INTEGER NOT NULL, seq INTEGER NOT NULL,
  user_id BLOB NOT NULL, role INTEGER NOT NULL, joined_at_version INTEGER NOT NULL,
  PRIMARY KEY (group_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chats (
  id INTEGER PRIMARY KEY,
  recipient_id INTEGER NOT NULL,
  archived INTEGER NOT NULL DEFAULT 0,
  pinned_order INTEGER,
  mute_until_ms TEXT,
  marked_unread INTEGER NOT NULL DEFAULT 0,
  expiration_timer_ms INTEGER
);
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY,
  chat_id INTEGER NOT NULL,
  author_id INTEGER NOT NULL,
  date_sent INTEGER NOT NULL,
  kind TEXT NOT NULL,
  outgoing INTEGER NOT NULL,
  date_received INTEGER NOT NULL,
  date_server_sent INTEGER,
  read INTEGER NOT NULL,
  sealed_sender INTEGER NOT NULL,
  body TEXT,
  quote_target_ts INTEGER, quote_author_id INTEGER, quote_body TEXT, quote_type INTEGER,
  sticker_pack_id BLOB, sticker_pack_key BLOB, sticker_id INTEGER, sticker_emoji TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_chat ON messages (chat_id, id);
CREATE TABLE IF NOT EXISTS reactions (
  message_id INTEGER NOT NULL, seq INTEGER NOT NULL,
  emoji TEXT NOT NULL, author_id INTEGER NOT NULL, sent_ts INTEGER NOT NULL, sort_order INTEGER NOT NULL,
  PRIMARY KEY (message_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS revisions (
  message_id INTEGER NOT NULL, seq INTEGER NOT NULL,
  date_sent INTEGER NOT NULL, date_received INTEGER NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (message_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attachments (
  message_id INTEGER NOT NULL, seq INTEGER NOT NULL,
  role TEXT NOT NULL,
  plaintext_hash BLOB NOT NULL, key BLOB NOT NULL, size INTEGER NOT NULL,
  content_type TEXT, file_name TEXT, width INTEGER, height INTEGER, caption TEXT, blur_hash TEXT,
  incremental_mac BLOB, incremental_mac_chunk_size INTEGER,
  transit_cdn_key TEXT, transit_cdn_number INTEGER, transit_upload_ts INTEGER, media_tier_cdn INTEGER,
  flag INTEGER NOT NULL DEFAULT 0, was_downloaded INTEGER NOT NULL DEFAULT 0, client_uuid BLOB,
  PRIMARY KEY (message_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS attachments_by_media ON attachments (plaintext_hash, key);
CREATE TABLE IF NOT EXISTS sticker_packs (pack_id BLOB PRIMARY KEY, pack_key BLOB NOT NULL) WITHOUT ROWID;
`;
