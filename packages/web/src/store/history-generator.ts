import type { ChatDb } from './chat-db.ts';
import type { AttachmentRecord, MediaRecord, MessageRecord, RecipientRecord } from './model.ts';

/**
 * A sample chat history for the demo, deterministic from a seed: contacts, a group, text
 * messages with reactions, and photos drawn on a canvas (no network, no bundled images).
 */

export interface GenerateOptions {
  seed?: number;
  chats?: number;
  messages?: number;
  images?: number;
  now?: number;
  profileName?: string;
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

const FIRST = [
  'Ada',
  'Bruno',
  'Chiara',
  'Dmitri',
  'Elif',
  'Farid',
  'Greta',
  'Hiro',
  'Imani',
  'Jonas',
  'Kai',
  'Lena',
];
const LAST = ['Okafor', 'Silva', 'Rossi', 'Ivanova', 'Yilmaz', 'Haddad', 'Berg', 'Tanaka', 'Mensah', 'Weber'];
const LINES = [
  'Are we still on for Saturday?',
  'I just landed, will call you later',
  'Did you see the photos from the trip?',
  'Running 10 minutes late, sorry!',
  'Can you send me the address again?',
  'Happy birthday!!',
  'The recipe worked, thank you',
  'Let me check and get back to you',
  'Good night',
  'That is hilarious',
  'Who is bringing the cake?',
  'Meeting moved to 3pm',
  'I found your keys in my bag',
  'On my way',
  'The kids loved it',
  'See you at the station',
  'Sounds good to me',
  'Can you water the plants on Tuesday?',
];
const EMOJI = ['❤️', '👍', '😂', '😮', '🎉'];

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function bytesFrom(rand: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

function uuidFrom(rand: () => number): string {
  const b = bytesFrom(rand, 16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Draws a small "photo": a sky gradient, a sun and hills, with a caption. PNG bytes. */
export async function drawPhoto(rand: () => number, label: string): Promise<Blob> {
  const w = 480;
  const h = 320;
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

/** Replaces the device's history with a generated one (atomically, like a restore). */
export async function seedHistory(store: ChatDb, opts: GenerateOptions = {}): Promise<{ messages: number }> {
  const rand = prng(opts.seed ?? 1);
  const nChats = opts.chats ?? 8;
  const nMessages = opts.messages ?? 400;
  const nImages = opts.images ?? 6;
  const now = opts.now ?? Date.now();
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rand() * list.length)] as T;

  const session = await store.beginImport();
  try {
    const w = session.writer;
    await w.put(
      'account',
      { profileName: opts.profileName ?? 'Me', profileKey: bytesFrom(rand, 32) },
      'self',
    );
    const self: RecipientRecord = { id: 1, kind: 'self', name: 'Me' };
    await w.put('recipients', self);
    const contacts: RecipientRecord[] = [];
    const nContacts = Math.max(2, nChats - 1);
    for (let i = 0; i < nContacts; i++) {
      const c: RecipientRecord = {
        id: 2 + i,
        kind: 'contact',
        name: `${FIRST[i % FIRST.length]} ${pick(LAST)}`,
        aci: uuidFrom(rand),
        e164: `+1555${String(1000000 + Math.floor(rand() * 8999999)).slice(0, 7)}`,
      };
      contacts.push(c);
      await w.put('recipients', c);
    }
    const group: RecipientRecord = {
      id: 2 + nContacts,
      kind: 'group',
      name: 'Weekend hikers',
      groupMasterKey: bytesFrom(rand, 32),
      members: contacts.slice(0, 4).map((c) => c.id),
    };
    await w.put('recipients', group);
    const talkers = [...contacts.slice(0, nChats - 1), group];
    for (let i = 0; i < talkers.length; i++) {
      const r = talkers[i]!;
      await w.put('chats', { id: i + 1, recipientId: r.id, ...(i === 0 ? { pinnedOrder: 1 } : {}) });
    }

    // Spread messages over the last 60 days, strictly increasing per chat.
    const span = 60 * 24 * 3600 * 1000;
    const times = Array.from({ length: nMessages }, () => now - Math.floor(rand() * span)).sort(
      (a, b) => a - b,
    );
    const imageAt = new Set<number>();
    // Photos land among the most recent messages so they are easy to find in the demo.
    for (let k = 0; k < nImages; k++) imageAt.add(nMessages - 1 - k * 7);
    const lastTime = new Map<number, number>();
    for (let m = 0; m < nMessages; m++) {
      // Every chat gets a message; the newest one (a photo) goes to the pinned chat, so the demo
      // opens on a photo.
      const chatIndex =
        m === nMessages - 1 ? 0 : m < talkers.length ? m : Math.floor(rand() * talkers.length);
      const chatId = chatIndex + 1;
      const r = talkers[chatIndex]!;
      let t = times[m]!;
      const prev = lastTime.get(chatId);
      if (prev !== undefined && t <= prev) t = prev + 1;
      lastTime.set(chatId, t);
      const outgoing = rand() < 0.45;
      const authorId = outgoing ? 1 : r.kind === 'group' ? pick(r.members ?? [2]) : r.id;
      const attachments: AttachmentRecord[] = [];
      if (imageAt.has(m)) {
        const blob = await drawPhoto(rand, `Photo ${nMessages - m} · ${r.name}`);
        const bytes = new Uint8Array(await blob.arrayBuffer());
        const plaintextHash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
        const keys = bytesFrom(rand, 64);
        const id = hex(plaintextHash);
        const media: MediaRecord = {
          id,
          contentType: 'image/png',
          size: bytes.length,
          blob,
          plaintextHash,
          keys,
          lastUsed: t,
        };
        await w.put('media', media);
        attachments.push({
          mediaId: id,
          contentType: 'image/png',
          size: bytes.length,
          width: 480,
          height: 320,
          plaintextHash,
          keys,
          fileName: `photo-${m}.png`,
        });
      }
      const message: MessageRecord = {
        chatId,
        authorId,
        dateSent: t,
        direction: outgoing ? 'outgoing' : 'incoming',
        attachments,
        read: true,
        ...(attachments.length === 0 || rand() < 0.5 ? { text: pick(LINES) } : {}),
        ...(outgoing ? {} : { dateReceived: t + 500 }),
        ...(rand() < 0.08
          ? {
              reactions: [
                {
                  authorId: outgoing ? (r.kind === 'group' ? (r.members?.[0] ?? 2) : r.id) : 1,
                  emoji: pick(EMOJI),
                  sentTimestamp: t + 60_000,
                },
              ],
            }
          : {}),
      };
      await w.put('messages', message);
    }
    await session.commit();
  } catch (err) {
    await session.abort();
    throw err;
  }
  return { messages: nMessages };
}
