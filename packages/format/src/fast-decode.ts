// Hand-written decoder for the hot path of reading a backup: Frame -> ChatItem and the children a
// chat item usually has (directional details, send statuses, standard message, text, body ranges,
// attachments, file pointers, locators, reactions). A backup is almost entirely chat items, and
// the generated decoders spent half of open + validate on per-call overhead (a recursion counter
// stored on the reader, try/finally, one reader method call per varint with the position kept in
// a property) and on turning every uint64 into a bigint through two 32-bit halves (bench/README.md,
// performance notes). Here the position is a local variable, small ids come from a table of
// preallocated bigints and larger values skip the halves.
//
// Contract: for every input, the result is what the generated `Frame.decode` (src/gen, with the
// strictness fixes of scripts/gen.mjs) gives, field for field, including the defaults, oneof
// objects, views into the input for `bytes`, unknown fields by tag, and the recursion limit; and
// an input it rejects is rejected here too (test/fast-decode.test.ts proves it differentially).
// That is why every rare case is handed to the generated code or to the reader itself instead of
// being reimplemented: other messages (Quote, LinkPreview, updates, ...) go to their generated
// decoder on the shared BinaryReader, varints longer than the fast paths go to the reader's own
// varint functions, and unknown fields to `reader.skip`.
import type { BinaryReader } from '@bufbuild/protobuf/wire';
import {
  AccountData,
  AdHocCall,
  AdminDeletedMessage,
  Chat,
  ChatFolder,
  type ChatItem,
  ChatItem_DirectionlessMessageDetails,
  type ChatItem_IncomingMessageDetails,
  type ChatItem_OutgoingMessageDetails,
  ChatItem_PinDetails,
  ChatUpdateMessage,
  ContactMessage,
  DirectStoryReplyMessage,
  type FilePointer,
  type FilePointer_LocatorInfo,
  type Frame,
  GiftBadge,
  LinkPreview,
  type MessageAttachment,
  NotificationProfile,
  PaymentNotification,
  Poll,
  Quote,
  type Reaction,
  Recipient,
  RemoteDeletedMessage,
  type SendStatus,
  SendStatus_Failed,
  SendStatus_Pending,
  SendStatus_Skipped,
  type StandardMessage,
  StickerMessage,
  StickerPack,
  type Text,
  ViewOnceMessage,
  type BodyRange as WireBodyRange,
} from './gen/Backup.ts';

/** ts-proto keeps the nesting depth of the current decode on the reader (limit 100). */
type DepthReader = BinaryReader & { __tsProtoDecodeDepth?: number };
type Unknown = { _unknownFields?: { [key: number]: Uint8Array[] } | undefined };
interface Codec<T> {
  decode(reader: BinaryReader, length?: number): T;
}

// State of the frame being decoded. Module-level so the small readers below stay plain functions
// (no closure or object per frame); decoding is synchronous, so frames never interleave.
let rd: DepthReader;
let buf: Uint8Array;
let pos = 0;
let bufLen = 0;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
/** The buffer read as one byte per character: Node's Buffer (a copy), else the WHATWG decoder. */
const latin1: (b: Uint8Array) => string = (() => {
  const B = (globalThis as { Buffer?: typeof Buffer }).Buffer;
  if (B) return (b) => B.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
  // windows-1252 (the WHATWG meaning of "latin1") also maps every byte to exactly one character.
  const d = new TextDecoder('latin1');
  return (b) => d.decode(b);
})();
const LATIN1_WINDOW = 96 * 1024;
/** The last window read as Latin-1: the reader it was read for, [start, end) in its buffer, the text. */
let latin1Of: BinaryReader | undefined;
let latin1Start = 0;
let latin1End = 0;
let latin1Text = '';
const SMALL = 1 << 14;
/** bigints 0..16383, shared: recipient and chat ids, sort orders, small counters. */
const SMALL_BIGINTS: bigint[] = [];
for (let i = 0; i < SMALL; i++) SMALL_BIGINTS.push(BigInt(i));
const scratch = new DataView(new ArrayBuffer(8));

/**
 * Decodes one Frame of `length` bytes at `reader.pos` (reader over `bytes`) and leaves
 * `reader.pos` after what it read, like `Frame.decode(reader, length)`.
 */
export function decodeFrame(reader: BinaryReader, bytes: Uint8Array, length: number): Frame {
  rd = reader;
  buf = bytes;
  bufLen = bytes.length;
  pos = reader.pos;
  const end = pos + length;
  const m: Frame = { item: undefined, _unknownFields: {} };
  // Frame is depth 1; its children see depth 1 on the reader.
  while (pos < end) {
    const tag = u32();
    switch (tag) {
      case 34:
        m.item = { $case: 'chatItem', chatItem: chatItem(2) };
        continue;
      case 10:
        m.item = { $case: 'account', account: generated(AccountData, 1) };
        continue;
      case 18:
        m.item = { $case: 'recipient', recipient: generated(Recipient, 1) };
        continue;
      case 26:
        m.item = { $case: 'chat', chat: generated(Chat, 1) };
        continue;
      case 42:
        m.item = { $case: 'stickerPack', stickerPack: generated(StickerPack, 1) };
        continue;
      case 50:
        m.item = { $case: 'adHocCall', adHocCall: generated(AdHocCall, 1) };
        continue;
      case 58:
        m.item = { $case: 'notificationProfile', notificationProfile: generated(NotificationProfile, 1) };
        continue;
      case 66:
        m.item = { $case: 'chatFolder', chatFolder: generated(ChatFolder, 1) };
        continue;
    }
    unknownField(m, tag);
  }
  reader.pos = pos;
  rd.__tsProtoDecodeDepth = 0;
  return m;
}

// ------------------------------------------------------------------ wire primitives

/** A length-delimited message decoded by its generated decoder, at the depth ts-proto would have. */
function generated<T>(codec: Codec<T>, parentDepth: number): T {
  const n = u32();
  rd.pos = pos;
  rd.__tsProtoDecodeDepth = parentDepth;
  const v = codec.decode(rd, n);
  pos = rd.pos;
  return v;
}

/** What the generated decoders do with a tag they do not know (same checks, same bytes kept). */
function unknownField(m: Unknown, tag: number): void {
  if ((tag & 7) === 4 || tag === 0) throw new Error(`invalid protobuf tag ${tag}`);
  rd.pos = pos;
  const bytes = rd.skip(tag & 7);
  pos = rd.pos;
  const fields = m._unknownFields as { [key: number]: Uint8Array[] };
  const list = fields[tag];
  if (list === undefined) fields[tag] = [bytes];
  else list.push(bytes);
}

function enter(depth: number, n: number): number {
  // ts-proto refuses a message whose parent is already at depth 100.
  if (depth > 100) throw new Error('protobuf decode recursion limit exceeded');
  return pos + n;
}

/** uint32 varint (tags, lengths, uint32 fields). 1-2 bytes here, longer ones by the reader. */
function u32(): number {
  // Past the end, buf[i] is undefined and every `< 0x80` test fails: the reader then reports it.
  const b0 = buf[pos] as number;
  if (b0 < 0x80) {
    pos++;
    return b0;
  }
  const b1 = buf[pos + 1] as number;
  if (b1 < 0x80) {
    pos += 2;
    return (b0 & 0x7f) | (b1 << 7);
  }
  rd.pos = pos;
  const v = rd.uint32();
  pos = rd.pos;
  return v;
}

/** uint64 varint as a bigint. Up to 7 bytes (49 bits, exact in a double) here. */
function u64(): bigint {
  let b = buf[pos] as number;
  if (b < 0x80) {
    pos++;
    return SMALL_BIGINTS[b] as bigint;
  }
  const start = pos;
  let n = 0;
  let mul = 1;
  for (let i = 0; i < 7; i++) {
    b = buf[pos++] as number;
    if (b === undefined) break;
    n += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (n < SMALL) return SMALL_BIGINTS[n] as bigint;
      scratch.setUint32(0, n >>> 0, true);
      scratch.setUint32(4, (n / 4294967296) >>> 0, true);
      return scratch.getBigUint64(0, true);
    }
    mul *= 128;
  }
  rd.pos = start;
  const v = rd.uint64() as bigint;
  pos = rd.pos;
  return v;
}

function bool(): boolean {
  const b = buf[pos] as number;
  if (b < 0x80) {
    pos++;
    return b !== 0;
  }
  rd.pos = pos;
  const v = rd.bool();
  pos = rd.pos;
  return v;
}

function int32(): number {
  return u32() | 0;
}

function bytes(): Uint8Array {
  const n = u32();
  const start = pos;
  pos += n;
  if (pos > bufLen) throw new RangeError('premature EOF');
  return buf.subarray(start, pos);
}

/** Strict UTF-8, as the generated `reader.string(true)`: invalid sequences throw, a BOM is text. */
function str(): string {
  const n = u32();
  const start = pos;
  pos += n;
  if (pos > bufLen) throw new RangeError('premature EOF');
  for (let i = start; i < pos; i++) {
    if ((buf[i] as number) > 0x7f) return utf8.decode(buf.subarray(start, pos));
  }
  // ASCII (almost every string in a backup): a piece of the buffer read once as Latin-1, where
  // byte i is character i. A substring is a small slice object instead of a call into the UTF-8
  // decoder and a copy per string (bench/README.md, performance notes). Like `bytes` fields, it
  // keeps that window of the input alive while the decoded message is (and this module keeps the
  // last window until the next one).
  if (rd !== latin1Of || start < latin1Start || pos > latin1End) {
    // Keyed by the reader, not the buffer: FrameDecoder makes one reader per push and decodes with
    // it synchronously, so the bytes cannot change under the cached text (a caller refilling the
    // same buffer for a later push gets a new reader). A window of at most LATIN1_WINDOW bytes (or
    // the string itself), so one huge pushed chunk is not copied whole; a reader batch (16 KiB) fits.
    latin1Of = rd;
    latin1Start = start;
    latin1End = Math.min(bufLen, Math.max(pos, start + LATIN1_WINDOW));
    latin1Text = latin1(buf.subarray(latin1Start, latin1End));
  }
  return latin1Text.substring(start - latin1Start, pos - latin1Start);
}

// ------------------------------------------------------------------ messages (depth = nesting level)

function chatItem(depth: number): ChatItem {
  const end = enter(depth, u32());
  const m: ChatItem = {
    chatId: 0n,
    authorId: 0n,
    dateSent: 0n,
    expireStartDate: undefined,
    expiresInMs: undefined,
    revisions: [],
    sms: false,
    directionalDetails: undefined,
    item: undefined,
    pinDetails: undefined,
    _unknownFields: {},
  };
  while (pos < end) {
    const tag = u32();
    switch (tag) {
      case 8:
        m.chatId = u64();
        continue;
      case 16:
        m.authorId = u64();
        continue;
      case 24:
        m.dateSent = u64();
        continue;
      case 32:
        m.expireStartDate = u64();
        continue;
      case 40:
        m.expiresInMs = u64();
        continue;
      case 50:
        m.revisions.push(chatItem(depth + 1));
        continue;
      case 56:
        m.sms = bool();
        continue;
      case 66:
        m.directionalDetails = { $case: 'incoming', incoming: incoming(depth + 1) };
        continue;
      case 74:
        m.directionalDetails = { $case: 'outgoing', outgoing: outgoing(depth + 1) };
        continue;
      case 82:
        m.directionalDetails = {
          $case: 'directionless',
          directionless: generated(ChatItem_DirectionlessMessageDetails, depth),
        };
        continue;
      case 90:
        m.item = { $case: 'standardMessage', standardMessage: standardMessage(depth + 1) };
        continue;
      case 98:
        m.item = { $case: 'contactMessage', contactMessage: generated(ContactMessage, depth) };
        continue;
      case 106:
        m.item = { $case: 'stickerMessage', stickerMessage: generated(StickerMessage, depth) };
        continue;
      case 114:
        m.item = {
          $case: 'remoteDeletedMessage',
          remoteDeletedMessage: generated(RemoteDeletedMessage, depth),
        };
        continue;
      case 122:
        m.item = { $case: 'updateMessage', updateMessage: generated(ChatUpdateMessage, depth) };
        continue;
      case 130:
        m.item = { $case: 'paymentNotification', paymentNotification: generated(PaymentNotification, depth) };
        continue;
      case 138:
        m.item = { $case: 'giftBadge', giftBadge: generated(GiftBadge, depth) };
        continue;
      case 146:
        m.item = { $case: 'viewOnceMessage', viewOnceMessage: generated(ViewOnceMessage, depth) };
        continue;
      case 154:
        m.item = {
          $case: 'directStoryReplyMessage',
          directStoryReplyMessage: generated(DirectStoryReplyMessage, depth),
        };
        continue;
      case 162:
        m.item = { $case: 'poll', poll: generated(Poll, depth) };
        continue;
      case 178:
        m.item = { $case: 'adminDeletedMessage', adminDeletedMessage: generated(AdminDeletedMessage, depth) };
        continue;
      case 170:
        m.pinDetails = generated(ChatItem_PinDetails, depth);
        continue;
    }
    unknownField(m, tag);
  }
  return m;
}

function incoming(depth: number): ChatItem_IncomingMessageDetails {
  const end = enter(depth, u32());
  const m: ChatItem_IncomingMessageDetails = {
    dateReceived: 0n,
    dateServerSent: undefined,
    read: false,
    sealedSender: false,
    _unknownFields: {},
  };
  while (pos < end) {
    const tag = u32();
    switch (tag) {
      case 8:
        m.dateReceived = u64();
        continue;
      case 16:
        m.dateServerSent = u64();
        continue;
      case 24:
        m.read = bool();
        continue;
      case 32:
        m.sealedSender = bool();
        continue;
    }
    unknownField(m, tag);
  }
  return m;
}

function outgoing(depth: number): ChatItem_OutgoingMessageDetails {
  const end = enter(depth, u32());
  const m: ChatItem_OutgoingMessageDetails = { sendStatus: [], dateReceived: 0n, _unknownFields: {} };
  while (pos < end) {
    const tag = u32();
    switch (tag) {
      case 10:
        m.sendStatus.push(sendStatus(depth + 1));
        continue;
      case 16:
        m.dateReceived = u64();
        continue;
    }
    unknownField(m, tag);
  }
  return m;
}

function sendStatus(depth: number): SendStatus {
  const end = enter(depth, u32());
  const m: SendStatus = { recipientId: 0n, timestamp: 0n, deliveryStatus: undefined, _unknownFields: {} };
  while (pos < end) {
    const tag = u32();
    switch (tag) {
      case 8:
        m.recipientId = u64();
        continue;
      case 16:
        m.timestamp = u64();
        continue;
      case 26:
        m.deliveryStatus = { $case: 'pending', pending: generated(SendStatus_Pending, depth) };
        continue;
      case 34:
        m.deliveryStatus = { $case: 'sent', sent: sealedSenderStatus(depth + 1) };
        continue;
      case 42:
        m.deliveryStatus = { $case: 'delivered', delivered: sealedSenderStatus(depth + 1) };
        continue;
      case 50:
        m.deliveryStatus = { $case: 'read', read: sealedSenderStatus(depth + 1) };
        continue;
      case 58:
        m.deliveryStatus = { $case: 'viewed', viewed: sealedSenderStatus(depth + 1) };
        continue;
      case 66:
        m.deliveryStatus = { $case: 'skipped', skipped: generated(SendStatus_Skipped, depth) };
        continue;
      case 74:
        m.deliveryStatus = { $case: 'failed', failed: generated(SendStatus_Failed, depth) };
        continue;
    }
    unknownField(m, tag);
  }
  return m;
}

/** SendStatus.Sent, .Delivered, .Read and .Viewed: the same single field `bool sealedSender = 1`. */
function sealedSenderStatus(depth: number): {
  sealedSender: boolean;
  _unknownFields?: Unknown['_unknownFields'];
} {
  const end = enter(depth, u32());
  const m = { sealedSender: false, _unknownFields: {} };
  while (pos < end) {
    const tag = u32();
    if (tag === 8) {
      m.sealedSender = bool();
      continue;
    }
    unknownField(m, tag);
  }
  return m;
}

function standardMessage(depth: number): StandardMessage {
  const end = enter(depth, u32());
  const m: StandardMessage = {
    quote: undefined,
    text: undefined,
    attachments: [],
    linkPreview: [],
    longText: undefined,
    reactions: [],
    _unknownFields: {},
  };
  while (pos < end) {
    const tag = u32();
    switch (tag) {
      case 10:
        m.quote = generated(Quote, depth);
        continue;
      case 18:
        m.text = text(depth + 1);
        continue;
      case 26:
        m.attachments.push(attachment(depth + 1));
        continue;
      case 34:
        m.linkPreview.push(generated(LinkPreview, depth));
        continue;
      case 42:
        m.longText = filePointer(depth + 1);
        continue;
      case 50:
        m.reactions.push(reaction(depth + 1));
        continue;
    }
    unknownField(m, tag);
  }
  return m;
}

function text(depth: number): Text {
  const end = enter(depth, u32());
  const m: Text = { body: '', bodyRanges: [], _unknownFields: {} };
  while (pos < end) {
    const tag = u32();
    switch (tag) {
      case 10:
        m.body = str();
        continue;
      case 18:
        m.bodyRanges.push(bodyRange(depth + 1));
        continue;
    }
    unknownField(m, tag);
  }
  return m;
}

function bodyRange(depth: number): WireBodyRange {
  const end = enter(depth, u32());
  const m: WireBodyRange = { start: 0, length: 0, associatedValue: undefined, _unknownFields: {} };
  while (pos < end) {
    const tag = u32();
    switch (tag) {
      case 8:
        m.start = u32();
        continue;
      case 16:
        m.length = u32();
        continue;
      case 26:
        m.associatedValue = { $case: 'mentionAci', mentionAci: bytes() };
        continue;
      case 32:
        m.associatedValue = { $case: 'style', style: int32() };
        continue;
    }
    unknownField(m, tag);
  }
  return m;
}

function reaction(depth: number): Reaction {
  const end = enter(depth, u32());
  const m: Reaction = { emoji: '', authorId: 0n, sentTimestamp: 0n, sortOrder: 0n, _unknownFields: {} };
  while (pos < end) {
    const tag = u32();
    switch (tag) {
      case 10:
        m.emoji = str();
        continue;
      case 16:
        m.authorId = u64();
        continue;
      case 24:
        m.sentTimestamp = u64();
        continue;
      case 32:
        m.sortOrder = u64();
        continue;
    }
    unknownField(m, tag);
  }
  return m;
}

function attachment(depth: number): MessageAttachment {
  const end = enter(depth, u32());
  const m: MessageAttachment = {
    pointer: undefined,
    flag: 0,
    wasDownloaded: false,
    clientUuid: undefined,
    _unknownFields: {},
  };
  while (pos < end) {
    const tag = u32();
    switch (tag) {
      case 10:
        m.pointer = filePointer(depth + 1);
        continue;
      case 16:
        m.flag = int32();
        continue;
      case 24:
        m.wasDownloaded = bool();
        continue;
      case 34:
        m.clientUuid = bytes();
        continue;
    }
    unknownField(m, tag);
  }
  return m;
}

function filePointer(depth: number): FilePointer {
  const end = enter(depth, u32());
  const m: FilePointer = {
    contentType: undefined,
    incrementalMac: undefined,
    incrementalMacChunkSize: undefined,
    fileName: undefined,
    width: undefined,
    height: undefined,
    caption: undefined,
    blurHash: undefined,
    locatorInfo: undefined,
    _unknownFields: {},
  };
  while (pos < end) {
    const tag = u32();
    switch (tag) {
      case 34:
        m.contentType = str();
        continue;
      case 42:
        m.incrementalMac = bytes();
        continue;
      case 48:
        m.incrementalMacChunkSize = u32();
        continue;
      case 58:
        m.fileName = str();
        continue;
      case 64:
        m.width = u32();
        continue;
      case 72:
        m.height = u32();
        continue;
      case 82:
        m.caption = str();
        continue;
      case 90:
        m.blurHash = str();
        continue;
      case 106:
        m.locatorInfo = locatorInfo(depth + 1);
        continue;
    }
    unknownField(m, tag);
  }
  return m;
}

function locatorInfo(depth: number): FilePointer_LocatorInfo {
  const end = enter(depth, u32());
  const m: FilePointer_LocatorInfo = {
    key: new Uint8Array(0),
    integrityCheck: undefined,
    size: 0,
    transitCdnKey: undefined,
    transitCdnNumber: undefined,
    transitTierUploadTimestamp: undefined,
    mediaTierCdnNumber: undefined,
    localKey: undefined,
    _unknownFields: {},
  };
  while (pos < end) {
    const tag = u32();
    switch (tag) {
      case 10:
        m.key = bytes();
        continue;
      case 82:
        m.integrityCheck = { $case: 'plaintextHash', plaintextHash: bytes() };
        continue;
      case 90:
        m.integrityCheck = { $case: 'encryptedDigest', encryptedDigest: bytes() };
        continue;
      case 24:
        m.size = u32();
        continue;
      case 34:
        m.transitCdnKey = str();
        continue;
      case 40:
        m.transitCdnNumber = u32();
        continue;
      case 48:
        m.transitTierUploadTimestamp = u64();
        continue;
      case 56:
        m.mediaTierCdnNumber = u32();
        continue;
      case 74:
        m.localKey = bytes();
        continue;
    }
    unknownField(m, tag);
  }
  return m;
}
