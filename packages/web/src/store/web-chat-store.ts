import {
  accountFrame,
  chatFrame,
  chatItemFrame,
  type MediaRef,
  recipientFrame,
  rowFromFrame,
  stickerPackFrame,
} from '@coffer/chatstore/browser';
import type { ChatStore, ImportSession } from '@coffer/client';
import { CofferError, constantTimeEqual, sha256, toHex } from '@coffer/crypto';
import type { Frame } from '@coffer/format';
import type { ChatDb, ChatDbImport } from './chat-db.ts';
import type { MediaRecord } from './model.ts';

/**
 * The client SDK's ChatStore over the browser's IndexedDB history (chat-db.ts). Frames come from
 * and go to the reference store model through @coffer/chatstore's lossless mapping.
 */
export class WebChatStore implements ChatStore {
  constructor(private readonly db: ChatDb) {}

  /** Frames in Backup.proto order (Frame comment in spec 4): AccountData first, referenced ids before use. */
  async *exportFrames(): AsyncGenerator<Frame> {
    const account = await this.db.account();
    if (!account) throw new Error('there is no history on this device yet');
    yield accountFrame(account);
    for (const r of (await this.db.recipients()).sort((a, b) => a.id - b.id)) yield recipientFrame(r);
    for (const c of (await this.db.chats()).sort((a, b) => a.id - b.id)) yield chatFrame(c);
    for (const p of await this.db.stickerPacks()) yield stickerPackFrame(p);
    for await (const m of this.db.allMessages()) {
      const { id: _id, ...model } = m;
      yield chatItemFrame(model);
    }
  }

  /** Stages an import in a separate database; nothing is visible until `commit()`. */
  async beginImport(): Promise<WebImportSession> {
    return new WebImportSession(await this.db.beginImport());
  }

  /** Every media file the history refers to, most recently used first. */
  async listMedia(): Promise<MediaRef[]> {
    return (await this.db.allMedia()).map((m) => ({
      plaintextHash: m.plaintextHash,
      key: m.key,
      size: m.size,
      contentType: m.contentType,
      lastUsedAt: m.lastUsedAt,
    }));
  }

  /** The plaintext bytes (or thumbnail) of a media file, or undefined when this device lacks them. */
  async readMedia(plaintextHash: Uint8Array, thumbnail = false): Promise<Uint8Array | undefined> {
    const rec = await this.db.media(toHex(plaintextHash));
    const blob = thumbnail ? rec?.thumbnail : rec?.blob;
    return blob ? new Uint8Array(await blob.arrayBuffer()) : undefined;
  }

  async hasMedia(plaintextHash: Uint8Array, thumbnail = false): Promise<boolean> {
    const rec = await this.db.media(toHex(plaintextHash));
    return (thumbnail ? rec?.thumbnail : rec?.blob) !== undefined;
  }

  /** Stores a restored media file (full files must match their hash); the chat view shows it at once. */
  async writeMedia(plaintextHash: Uint8Array, bytes: Uint8Array, thumbnail = false): Promise<void> {
    if (!thumbnail && !constantTimeEqual(sha256(bytes), plaintextHash)) {
      throw new CofferError(
        'COFFER_ERR_MEDIA_PLAINTEXT_HASH',
        'a restored media file does not match its hash; it was not saved and will be fetched again',
      );
    }
    const id = toHex(plaintextHash);
    const rec = await this.db.media(id);
    if (!rec) return; // not referenced by the history (any more): nothing to attach it to
    const blob = new Blob(
      [bytes as Uint8Array<ArrayBuffer>],
      rec.contentType ? { type: rec.contentType } : {},
    );
    await this.db.putMedia(thumbnail ? { ...rec, thumbnail: blob } : { ...rec, blob });
  }
}

export class WebImportSession implements ImportSession {
  private readonly media = new Map<string, MediaRecord>();
  frames = 0;
  skipped = 0;

  constructor(private readonly session: ChatDbImport) {}

  async addFrame(frame: Frame): Promise<void> {
    this.frames++;
    const row = rowFromFrame(frame);
    const w = this.session.writer;
    switch (row.kind) {
      case 'account':
        return w.put('account', row.account, 'self');
      case 'recipient':
        return w.put('recipients', row.recipient);
      case 'chat':
        return w.put('chats', row.chat);
      case 'stickerPack':
        return w.put('stickerPacks', row.stickerPack, toHex(row.stickerPack.packId));
      case 'message': {
        // Media bytes come later (in the background); remember which files the history uses.
        for (const a of row.message.attachments) {
          const id = toHex(a.plaintextHash);
          const seen = this.media.get(id);
          if (seen) seen.lastUsedAt = Math.max(seen.lastUsedAt, row.message.dateSent);
          else
            this.media.set(id, {
              id,
              plaintextHash: a.plaintextHash,
              key: a.key,
              size: a.size,
              contentType: a.contentType,
              lastUsedAt: row.message.dateSent,
            });
        }
        return w.put('messages', row.message);
      }
      default:
        this.skipped++;
    }
  }

  async commit(): Promise<void> {
    for (const m of this.media.values()) await this.session.writer.put('media', m);
    await this.session.commit();
  }

  async abort(): Promise<void> {
    await this.session.abort();
  }
}
