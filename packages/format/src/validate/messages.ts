import type {
  AdminDeletedMessage,
  ContactAttachment,
  DirectStoryReplyMessage,
  GiftBadge,
  LinkPreview,
  PaymentNotification,
  Poll,
  Quote,
  Reaction,
  StandardMessage,
  Sticker,
  Text,
} from '../gen/Backup.ts';
import { unknownText } from './chat-style.ts';
import { checkAttachment, checkFilePointer } from './file-pointer.ts';
import { FLAG_ACI, FLAG_E164, KIND_CONTACT, KIND_RELEASE_NOTES, KIND_SELF, kindName, kindOf } from './ids.ts';
import { fail, prefixError, recipientIdText } from './rule-error.ts';
import type { ValidationState } from './state.ts';
import { checkTimestamp } from './timestamp.ts';

// libsignal chat/{text,reactions,quote,link,standard_message,voice_message,contact_message,
// sticker_message,view_once_message,story_reply,poll,admin_deleted,gift_badge}.rs.
// Each function's messages are relative; the caller adds libsignal's prefix.

const MAX_BODY_BYTES = 128 * 1024;
const MAX_BODY_BYTES_WITH_LONG_TEXT = 2 * 1024;
const MAX_BODY_BYTES_FOR_QUOTE = 2 * 1024;

/** UTF-8 length without allocating (libsignal measures bodies in bytes). */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 2; // surrogate pair: 4 bytes for 2 UTF-16 units
      i++;
    } else n += 2;
  }
  return n;
}

/** Full MessageText checks (body length, body ranges). */
export function checkText(t: Text): void {
  const len = utf8Length(t.body);
  if (len === 0) fail('text-empty-body', 'body was empty');
  if (len > MAX_BODY_BYTES) fail('text-body-too-long', `body was ${len} bytes (too long)`);
  for (const r of t.bodyRanges) {
    const v = r.associatedValue;
    if (v === undefined) {
      fail(
        'text-body-range-no-value',
        `BodyRange.associatedValue is a oneof but has no value, with ${unknownText(r)}`,
      );
    }
    if (v.$case === 'mentionAci' && v.mentionAci.length !== 16)
      fail('text-mention-invalid-aci', 'mention had invalid ACI');
  }
}

const hasAciOrE164 = (info: number): boolean => (info & (FLAG_ACI | FLAG_E164)) !== 0;

/** A set of reactions: one per author, each from a contact (with ACI or E164) or Self. */
export function checkReactions(reactions: Reaction[], st: ValidationState): void {
  if (reactions.length === 0) return;
  const seen = new Set<bigint>();
  for (const r of reactions) {
    if (seen.has(r.authorId))
      fail('reaction-multiple', `multiple reactions from ${recipientIdText(r.authorId)}`);
    seen.add(r.authorId);
    if (r.emoji === '') fail('reaction-empty-emoji', '"emoji" is an empty string');
    const info = st.recipient(r.authorId);
    if (info === undefined) fail('reaction-unknown-author', `unknown author ${recipientIdText(r.authorId)}`);
    const k = kindOf(info);
    if (k === KIND_CONTACT) {
      if (!hasAciOrE164(info)) {
        fail(
          'reaction-author-no-aci-or-e164',
          `author ${recipientIdText(r.authorId)} has neither an ACI nor an E164`,
        );
      }
    } else if (k !== KIND_SELF) {
      fail(
        'reaction-invalid-author',
        `author ${recipientIdText(r.authorId)} was a ${kindName(info)}, not a contact or self`,
      );
    }
    checkTimestamp(r.sentTimestamp, 'Reaction.sentTimestamp');
  }
}

export function checkQuote(q: Quote, st: ValidationState): void {
  const info = st.recipient(q.authorId);
  const id = recipientIdText(q.authorId);
  if (info === undefined) fail('quote-unknown-author', `has unknown author ${id}`);
  const k = kindOf(info);
  if (k === KIND_CONTACT) {
    if (!hasAciOrE164(info))
      fail('quote-author-no-aci-or-e164', `author ${id} has neither an ACI nor an E164`);
  } else if (k !== KIND_SELF && k !== KIND_RELEASE_NOTES) {
    fail('quote-invalid-author', `author ${id} is a ${kindName(info)}, not a contact or self`);
  }
  if (q.targetSentTimestamp !== undefined) checkTimestamp(q.targetSentTimestamp, 'Quote.targetSentTimestamp');
  const type = q.type >= 0 && q.type <= 4 ? q.type : 0;
  if (type === 0) fail('quote-type-unknown', '"type" is unknown');
  if (type === 1 && q.text === undefined && q.attachments.length === 0) {
    fail('quote-empty', 'quoted message is NORMAL but has no text or attachments');
  }
  if (q.text !== undefined) {
    try {
      checkText(q.text);
      const len = utf8Length(q.text.body);
      if (len > MAX_BODY_BYTES_FOR_QUOTE)
        fail('quote-text-too-long', `body was ${len} bytes (too long to be in a quote)`);
    } catch (e) {
      throw prefixError(e, 'text error: ');
    }
  }
  for (const a of q.attachments) {
    const t = a.thumbnail;
    if (t === undefined) continue;
    try {
      checkAttachment(t);
    } catch (e) {
      throw prefixError(e, 'attachment thumbnail: ');
    }
    if (t.flag === 1) fail('quote-thumbnail-voice', 'attachment thumbnail cannot have flag VOICE_MESSAGE');
  }
}

function checkLinkPreview(p: LinkPreview): void {
  if (p.url === '') fail('link-preview-empty-url', 'missing url');
  if (p.date !== undefined) checkTimestamp(p.date, 'LinkPreview.date');
  if (p.image !== undefined) {
    try {
      checkFilePointer(p.image);
    } catch (e) {
      throw prefixError(e, 'image: ');
    }
  }
}

/** True when libsignal treats this StandardMessage as a voice message. */
export function isVoiceMessage(m: StandardMessage): boolean {
  return m.attachments.length === 1 && m.attachments[0]?.flag === 1;
}

export function checkStandardMessage(m: StandardMessage, st: ValidationState): void {
  try {
    checkReactions(m.reactions, st);
  } catch (e) {
    throw prefixError(e, 'reaction: ');
  }
  if (m.quote !== undefined) {
    try {
      checkQuote(m.quote, st);
    } catch (e) {
      throw prefixError(e, 'quote: ');
    }
  }
  const text = m.text;
  if (text !== undefined && text.bodyRanges.length > 0) {
    try {
      checkText(text);
    } catch (e) {
      throw prefixError(e, 'text: ');
    }
  }
  for (const p of m.linkPreview) {
    try {
      checkLinkPreview(p);
    } catch (e) {
      throw prefixError(e, 'link preview: ');
    }
  }
  if (m.longText !== undefined) {
    try {
      checkFilePointer(m.longText);
    } catch (e) {
      throw prefixError(e, 'long text: ');
    }
  }
  for (const a of m.attachments) {
    try {
      checkAttachment(a);
    } catch (e) {
      throw prefixError(e, 'attachment: ');
    }
  }
  if (text !== undefined) {
    if (m.longText !== undefined) {
      const len = utf8Length(text.body);
      if (len > MAX_BODY_BYTES_WITH_LONG_TEXT) {
        fail(
          'text-too-long-with-long-text',
          `text: body was ${len} bytes (too long to also have a long text attachment)`,
        );
      }
    }
  } else {
    if (m.attachments.length === 0)
      fail('standard-message-empty', 'StandardMessage has neither text nor attachments');
    if (m.longText !== undefined)
      fail('long-text-without-body', 'StandardMessage has longText but no body text');
  }
}

export function checkVoiceMessage(m: StandardMessage, st: ValidationState): void {
  const p = 'voice message: ';
  if (m.text !== undefined) fail('voice-unexpected-field', `${p}has unexpected field text`);
  if (m.longText !== undefined) fail('voice-unexpected-field', `${p}has unexpected field longText`);
  if (m.linkPreview.length > 0) fail('voice-unexpected-field', `${p}has unexpected field linkPreview`);
  try {
    checkAttachment(m.attachments[0] as NonNullable<(typeof m.attachments)[0]>);
  } catch (e) {
    throw prefixError(e, `${p}attachment: `);
  }
  if (m.quote !== undefined) {
    try {
      checkQuote(m.quote, st);
    } catch (e) {
      throw prefixError(e, `${p}invalid quote: `);
    }
  }
  try {
    checkReactions(m.reactions, st);
  } catch (e) {
    throw prefixError(e, `${p}invalid reaction: `);
  }
}

const PHONE_TYPES = ['UNKNOWN', 'HOME', 'MOBILE', 'WORK', 'CUSTOM'];
const ADDRESS_TYPES = ['UNKNOWN', 'HOME', 'WORK', 'CUSTOM'];

export function checkContactAttachment(c: ContactAttachment | undefined): void {
  const p = 'contact message: ';
  if (c === undefined) fail('contact-message-missing', `${p}contact message without attachment`);
  const n = c.name;
  if (
    n !== undefined &&
    n.givenName === '' &&
    n.familyName === '' &&
    n.prefix === '' &&
    n.suffix === '' &&
    n.middleName === '' &&
    n.nickname === ''
  ) {
    fail('contact-message-empty-name', `${p}Name is present but empty`);
  }
  for (const ph of c.number) {
    const t = ph.type >= 1 && ph.type <= 4 ? ph.type : 0;
    if (t === 0) fail('contact-message-unknown-type', `${p}phone number type is unknown`);
    if (ph.value === '')
      fail('contact-message-phone-empty', `${p}${PHONE_TYPES[t]} phone number missing value`);
  }
  for (const em of c.email) {
    const t = em.type >= 1 && em.type <= 4 ? em.type : 0;
    if (t === 0) fail('contact-message-unknown-type', `${p}email type is unknown`);
    if (em.value === '') fail('contact-message-email-empty', `${p}${PHONE_TYPES[t]} email missing value`);
  }
  for (const a of c.address) {
    const t = a.type >= 1 && a.type <= 3 ? a.type : 0;
    if (t === 0) fail('contact-message-unknown-type', `${p}address type is unknown`);
    if (
      a.street === '' &&
      a.pobox === '' &&
      a.neighborhood === '' &&
      a.city === '' &&
      a.region === '' &&
      a.postcode === '' &&
      a.country === ''
    ) {
      fail('contact-message-empty-address', `${p}${ADDRESS_TYPES[t]} address is empty`);
    }
  }
  if (c.avatar !== undefined) {
    try {
      checkFilePointer(c.avatar);
    } catch (e) {
      throw prefixError(e, `${p}avatar: `);
    }
  }
}

export function checkSticker(s: Sticker | undefined): void {
  if (s === undefined) fail('sticker-message-missing-sticker', 'StickerMessage has no sticker');
  const p = 'sticker message: ';
  if (s.packId.length !== 16) fail('sticker-invalid-pack-id', `${p}pack ID is invalid`);
  if (s.packKey.length !== 32) fail('sticker-invalid-pack-key', `${p}pack key is invalid`);
  if (s.data === undefined) fail('sticker-missing-data', `${p}missing data pointer`);
  try {
    checkFilePointer(s.data);
  } catch (e) {
    throw prefixError(e, `${p}data pointer: `);
  }
}

export function checkDirectStoryReply(m: DirectStoryReplyMessage, st: ValidationState): void {
  const p = 'direct story reply: ';
  try {
    checkReactions(m.reactions, st);
  } catch (e) {
    throw prefixError(e, `${p}invalid reaction: `);
  }
  const r = m.reply;
  if (r === undefined) fail('story-reply-missing', `${p}story reply has neither textReply nor emoji`);
  if (r.$case === 'emoji') {
    if (r.emoji === '') fail('story-reply-empty-emoji', `${p}reply emoji is missing`);
    return;
  }
  const text = r.textReply.text;
  if (text === undefined) fail('story-reply-empty-text', `${p}reply text is missing`);
  try {
    checkText(text);
  } catch (e) {
    throw prefixError(e, `${p}text: `);
  }
  const lt = r.textReply.longText;
  if (lt !== undefined) {
    try {
      checkFilePointer(lt);
    } catch (e) {
      throw prefixError(e, `${p}long text: `);
    }
    const len = utf8Length(text.body);
    if (len > MAX_BODY_BYTES_WITH_LONG_TEXT) {
      fail(
        'text-too-long-with-long-text',
        `${p}text: body was ${len} bytes (too long to also have a long text attachment)`,
      );
    }
  }
}

let segmenter: { segment(s: string): Iterable<unknown> } | undefined;
/** Grapheme count (libsignal counts extended grapheme clusters for poll strings). */
function graphemes(s: string): number {
  if (segmenter === undefined) {
    const I = (globalThis as { Intl?: { Segmenter?: new (l?: string, o?: object) => typeof segmenter } })
      .Intl;
    segmenter = I?.Segmenter
      ? new I.Segmenter(undefined, { granularity: 'grapheme' })
      : { segment: (x: string) => [...x] };
  }
  let n = 0;
  for (const _ of (segmenter as { segment(s: string): Iterable<unknown> }).segment(s)) n++;
  return n;
}

export function checkPollString(s: string, what: string, max: number): void {
  const n = graphemes(s);
  if (n < 1 || n > max) fail('poll-string-size', `invalid poll ${what} size (${n}) is out of bounds`);
}

export function checkPoll(poll: Poll, st: ValidationState): void {
  checkPollString(poll.question, 'poll question', 200);
  if (poll.options.length < 2)
    fail('poll-too-few-options', `invalid poll ${poll.options.length} option(s) is too few for a poll`);
  const all = new Map<bigint, number>();
  for (const o of poll.options) {
    checkPollString(o.option, 'poll option', 100);
    const mine = new Map<bigint, number>();
    for (const v of o.votes) mine.set(v.voterId, (mine.get(v.voterId) ?? 0) + 1);
    const dup = [...mine].filter(([, c]) => c > 1).map(([id]) => recipientIdText(id));
    if (dup.length > 0)
      fail('poll-non-unique-voters', `invalid poll multiple vote records from voters: [${dup.join(', ')}]`);
    for (const v of o.votes) {
      const info = st.recipient(v.voterId);
      if (info === undefined) fail('poll-unknown-voter', 'invalid poll voter id is not present');
      const k = kindOf(info);
      if (k !== KIND_CONTACT && k !== KIND_SELF)
        fail('poll-invalid-voter', 'invalid poll voter id is not self nor contact');
      all.set(v.voterId, (all.get(v.voterId) ?? 0) + 1);
    }
  }
  if (!poll.allowMultiple) {
    const dup = [...all].filter(([, c]) => c > 1).map(([id]) => recipientIdText(id));
    if (dup.length > 0)
      fail('poll-non-unique-voters', `invalid poll multiple vote records from voters: [${dup.join(', ')}]`);
  }
  try {
    checkReactions(poll.reactions, st);
  } catch (e) {
    throw prefixError(e, 'invalid poll invalid reaction: ');
  }
}

export function checkAdminDeleted(m: AdminDeletedMessage, st: ValidationState): void {
  const info = st.recipient(m.adminId);
  const id = recipientIdText(m.adminId);
  if (info === undefined)
    fail('admin-deleted-unknown-admin', `admin deleted message: unknown admin id ${id}`);
  const k = kindOf(info);
  if (k !== KIND_CONTACT && k !== KIND_SELF) {
    fail(
      'admin-deleted-invalid-admin',
      `admin deleted message: admin id is not self nor contact: ${id}(${kindName(info)})`,
    );
  }
}

export function checkGiftBadge(g: GiftBadge): void {
  if (g.state === 3) {
    if (g.receiptCredentialPresentation.length > 0) {
      fail(
        'gift-badge-failed-with-presentation',
        'gift badge: state was FAILED but presentation was non-empty',
      );
    }
    return;
  }
  // The presentation is a fixed-size zkgroup structure (329 bytes, leading reserved byte 0; like
  // libsignal, trailing bytes are tolerated).
  // libsignal also decodes its curve points, which needs zkgroup; the shape is checked here.
  const p = g.receiptCredentialPresentation;
  if (p.length < 329 || p[0] !== 0) {
    fail(
      'gift-badge-invalid-presentation',
      'gift badge: receipt credential presentation failed to deserialize',
    );
  }
}

/** A MobileCoin amount as text: digits, optionally one '.' and more digits, not both parts empty. */
function isMobAmount(s: string): boolean {
  const dot = s.indexOf('.');
  const integral = dot < 0 ? s : s.slice(0, dot);
  const fractional = dot < 0 ? '' : s.slice(dot + 1);
  if (integral === '' && fractional === '') return false;
  return /^[0-9]*$/.test(integral) && /^[0-9]*$/.test(fractional);
}

/** libsignal chat/payment.rs (messages relative to the chat item, prefix "payment: "). */
export function checkPayment(p: PaymentNotification): void {
  const x = 'payment: ';
  if (p.amountMob !== undefined && !isMobAmount(p.amountMob))
    fail('payment-invalid-amount', `${x}"amountMob" was not parsable`);
  if (p.feeMob !== undefined && !isMobAmount(p.feeMob))
    fail('payment-invalid-fee', `${x}"fee" was not parsable`);
  const d = p.transactionDetails;
  if (d === undefined) return;
  const pay = d.payment;
  if (pay === undefined) {
    fail(
      'payment-no-transaction-details',
      `${x}TransactionDetails.payment is a oneof but has no value, with ${unknownText(d)}`,
    );
  }
  if (pay.$case !== 'transaction') return;
  const t = pay.transaction;
  const id = t.mobileCoinIdentification;
  if (id !== undefined) {
    const hasKeyImages = id.keyImages.length > 0;
    const hasPublicKeys = id.publicKey.length > 0;
    if (!hasKeyImages && !hasPublicKeys) {
      fail(
        'payment-empty-identification',
        `${x}transaction details: MobileCoinTxoIdentification has neither keyImages nor publicKey values`,
      );
    }
    if (hasKeyImages && hasPublicKeys) {
      fail(
        'payment-identification-both',
        `${x}transaction details: MobileCoinTxoIdentification has keyImages and publicKey values`,
      );
    }
  }
  try {
    if (t.timestamp !== undefined) checkTimestamp(t.timestamp, 'Transaction.timestamp');
    if (t.blockTimestamp !== undefined) checkTimestamp(t.blockTimestamp, 'Transaction.blockTimestamp');
  } catch (e) {
    throw prefixError(e, `${x}transaction details: `);
  }
}
