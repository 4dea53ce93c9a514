import { generateHistory, type HistorySink } from '@coffer/chatstore/browser';
import { sha256, toHex } from '@coffer/crypto';
import type { ChatDb, ChatDbWriter } from './chat-db.ts';
import type {
  AccountModel,
  AttachmentModel,
  ChatModel,
  MediaRecord,
  MessageModel,
  RecipientModel,
  StickerPackModel,
} from './model.ts';

/**
 * A sample chat history for the demo: @coffer/chatstore's deterministic generator plus photos
 * drawn on a canvas (no network, no bundled images).
 */

export interface GenerateOptions {
  seed?: number;
  chats?: number;
  messages?: number;
  images?: number;
  now?: number;
}

/** mulberry32: a tiny seeded PRNG; fine for sample data, never used for keys that protect anything. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PHOTO_W = 480;
const PHOTO_H = 320;

/** Draws a small "photo": a sky gradient, a sun and hills, with a caption. PNG bytes. */
export async function drawPhoto(rand: () => number, label: string): Promise<Blob> {
  const w = PHOTO_W;
  const h = PHOTO_H;
  const canvas = new OffscreenCanvas(w, h);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('2D canvas is not available');
  const hue = Math.floor(rand() * 360);
  const sky = ctx.createLinearGradient(0, 0, 0, h);
  sky.addColorStop(0, `hsl(${hue} 70% 60%)`);
  sky.addColorStop(1, `hsl(${(hue + 40) % 360} 80% 85%)`);
  ctx.fillStyle = sky;
  ctx.fillRect(0, 0, w, h);
  ctx.fillStyle = `hsl(${(hue + 180) % 360} 90% 70%)`;
  ctx.beginPath();
  ctx.arc(80 + rand() * 320, 60 + rand() * 60, 30 + rand() * 20, 0, Math.PI * 2);
  ctx.fill();
  for (let layer = 0; layer < 3; layer++) {
    ctx.fillStyle = `hsl(${(hue + 90 + layer * 20) % 360} 40% ${45 - layer * 10}%)`;
    ctx.beginPath();
    ctx.moveTo(0, h);
    for (let x = 0; x <= w; x += 40)
      ctx.lineTo(x, h * (0.55 + layer * 0.12) + Math.sin(x / 50 + rand() * 6) * 20);
    ctx.lineTo(w, h);
    ctx.fill();
  }
  ctx.fillStyle = 'rgba(0,0,0,0.55)';
  ctx.fillRect(0, h - 36, w, 36);
  ctx.fillStyle = '#fff';
  ctx.font = '20px sans-serif';
  ctx.fillText(label, 12, h - 12);
  return canvas.convertToBlob({ type: 'image/png' });
}

/** The IndexedDB side of the reference generator: rows go through the import writer. */
class IdbSink implements HistorySink {
  readonly media = new Map<string, MediaRecord>();

  constructor(private readonly w: ChatDbWriter) {}

  setAccount(a: AccountModel) {
    return this.w.put('account', a, 'self');
  }
  addRecipient(r: RecipientModel) {
    return this.w.put('recipients', r);
  }
  addChat(c: ChatModel) {
    return this.w.put('chats', c);
  }
  addStickerPack(p: StickerPackModel) {
    return this.w.put('stickerPacks', p, toHex(p.packId));
  }
  addMedia(plaintextHash: Uint8Array, bytes: Uint8Array, thumbnail: Uint8Array | null) {
    const id = toHex(plaintextHash);
    this.media.set(id, {
      id,
      plaintextHash,
      key: new Uint8Array(0),
      size: bytes.length,
      contentType: null,
      lastUsedAt: 0,
      blob: new Blob([bytes as Uint8Array<ArrayBuffer>]),
      ...(thumbnail ? { thumbnail: new Blob([thumbnail as Uint8Array<ArrayBuffer>]) } : {}),
    });
  }
  addMessage(m: MessageModel) {
    for (const a of m.attachments) {
      const rec = this.media.get(toHex(a.plaintextHash));
      if (!rec) continue;
      rec.key = a.key;
      rec.contentType = a.contentType;
      rec.lastUsedAt = Math.max(rec.lastUsedAt, m.dateSent);
      if (rec.blob && a.contentType) rec.blob = new Blob([rec.blob], { type: a.contentType });
    }
    return this.w.put('messages', m);
  }
}

/**
 * Replaces the device's history with a generated one, atomically (like a restore): the reference
 * generator of @coffer/chatstore (quotes, reactions, edits, stickers, deletions), then a few real
 * photos drawn on a canvas, newest first in the pinned chat, so the demo has images to show.
 */
export async function seedHistory(store: ChatDb, opts: GenerateOptions = {}): Promise<{ messages: number }> {
  const seed = opts.seed ?? 1;
  const nMessages = opts.messages ?? 400;
  const nImages = opts.images ?? 6;
  const now = opts.now ?? Date.now();
  const rand = prng(seed);
  const session = await store.beginImport();
  try {
    const sink = new IdbSink(session.writer);
    const summary = await generateHistory(
      {
        chats: opts.chats ?? 8,
        messages: nMessages,
        media: 0,
        seed,
        // Messages are about 15 s apart on average: end the history shortly before now.
        startMs: now - nMessages * 15_000 - (nImages + 2) * 600_000,
        sha256,
      },
      sink,
    );
    let t = summary.lastMessageAt;
    for (let k = nImages - 1; k >= 0; k--) {
      t += 300_000;
      const chatId = k === 0 ? 1 : 1 + (k % (opts.chats ?? 8));
      const blob = await drawPhoto(rand, `Photo ${nImages - k} · chat ${chatId}`);
      const bytes = new Uint8Array(await blob.arrayBuffer());
      const plaintextHash = sha256(bytes);
      const key = crypto.getRandomValues(new Uint8Array(64));
      const id = toHex(plaintextHash);
      sink.media.set(id, {
        id,
        plaintextHash,
        key,
        size: bytes.length,
        contentType: 'image/png',
        lastUsedAt: t,
        blob,
      });
      const attachment: AttachmentModel = {
        role: 'attachment',
        plaintextHash,
        key,
        size: bytes.length,
        contentType: 'image/png',
        fileName: `photo-${nImages - k}.png`,
        width: PHOTO_W,
        height: PHOTO_H,
        caption: null,
        blurHash: null,
        incrementalMac: null,
        incrementalMacChunkSize: null,
        transitCdnKey: null,
        transitCdnNumber: null,
        transitTierUploadTimestamp: null,
        mediaTierCdnNumber: null,
        flag: 0,
        wasDownloaded: true,
        clientUuid: null,
      };
      await session.writer.put('messages', {
        chatId,
        authorId: 1,
        dateSent: t,
        kind: 'standard',
        outgoing: true,
        dateReceived: t,
        dateServerSent: null,
        read: true,
        sealedSender: false,
        body: k === 0 ? 'The view from the top!' : null,
        quote: null,
        sticker: null,
        reactions: [],
        revisions: [],
        attachments: [attachment],
      } satisfies MessageModel);
    }
    // Only files a message refers to belong to the history (a sticker pack's unused stickers do not).
    for (const m of sink.media.values()) if (m.key.length === 64) await session.writer.put('media', m);
    await session.commit();
    return { messages: summary.messages + nImages };
  } catch (err) {
    await session.abort();
    throw err;
  }
}
