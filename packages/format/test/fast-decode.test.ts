// Differential proof for src/fast-decode.ts: on every input, the hand-written Frame decoder must
// give what the generated `Frame.decode` gives (the same tree: fields, defaults, oneofs, bigints,
// views into the input at the same offsets, unknown fields), or fail with the same error, and
// leave the reader at the same position; and a backup must get the same validation outcome
// (accepted with the same summary and warnings, or rejected with the same code, rule and reason).
// Inputs: random chat items (every field the fast path reads, values at the varint and 2^53
// edges, unknown fields, nested revisions), byte-level mutations of those and of all 454
// Signal-Message-Backup-Tests frames, the libsignal valid/invalid cases and hand-made edge cases.
import { readdirSync, readFileSync } from 'node:fs';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import { hasErrorCode } from '@coffer/crypto';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { propertyRuns } from '../../../test-support/profile.ts';
import { vectorPath } from '../../../test-support/vectors.ts';
import { decodeFrame } from '../src/fast-decode.ts';
import { type BackupItem, FrameDecoder } from '../src/frame-reader.ts';
import { encodeDelimitedFrame, encodeDelimitedInfo } from '../src/frame-writer.ts';
import {
  BackupInfo,
  type ChatItem,
  type FilePointer,
  Frame,
  type MessageAttachment,
  type SendStatus,
  type StandardMessage,
} from '../src/gen/Backup.ts';
import { BACKUP_INVALID, BackupValidator, VALIDATION_PURPOSES, validateBackup } from '../src/index.ts';
import { parseJsonProto } from '../src/json-form.ts';
import type { ValidationPurpose } from '../src/validate/purpose.ts';

const RUNS = Number(process.env.COFFER_FAST_DECODE_RUNS ?? propertyRuns(600));

// ------------------------------------------------------------------ comparing the two decoders

type Result = { ok: true; value: unknown; pos: number } | { ok: false; error: string };

/** Decodes the message at [start, start+len) of `buf` as FrameDecoder does (shared reader, bytes after it). */
function decodeWith(fast: boolean, buf: Uint8Array, start: number, len: number): Result {
  const reader = new BinaryReader(buf);
  reader.pos = start;
  try {
    const value = fast ? decodeFrame(reader, buf, len) : Frame.decode(reader, len);
    return { ok: true, value, pos: reader.pos };
  } catch (e) {
    return { ok: false, error: `${(e as Error).constructor.name}: ${(e as Error).message}` };
  }
}

/** First difference between two decoded trees, or '' (bytes must be views of the same input bytes). */
function diff(a: unknown, b: unknown, path = 'frame'): string {
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array)) return `${path}: bytes vs not bytes`;
    if (a.length !== b.length) return `${path}: length ${a.length} vs ${b.length}`;
    if (a.length > 0 && (a.buffer !== b.buffer || a.byteOffset !== b.byteOffset))
      return `${path}: not the same view`;
    return '';
  }
  if (typeof a !== typeof b) return `${path}: ${typeof a} vs ${typeof b}`;
  if (typeof a !== 'object' || a === null || b === null)
    return Object.is(a, b) ? '' : `${path}: ${String(a)} vs ${String(b)}`;
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: array vs object`;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return `${path}: prototypes differ`;
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length || ka.some((k) => !Object.hasOwn(b as object, k)))
    return `${path}: keys ${ka.join(',')} vs ${kb.join(',')}`;
  for (const k of ka) {
    const d = diff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d) return d;
  }
  return '';
}

/** Decodes with both, with `trailer` after the frame (as the next frames of a chunk), and compares. */
function expectSame(frameBytes: Uint8Array, trailer: Uint8Array = new Uint8Array(0), lead = 0): Result {
  const buf = new Uint8Array(lead + frameBytes.length + trailer.length);
  buf.set(frameBytes, lead);
  buf.set(trailer, lead + frameBytes.length);
  const gen = decodeWith(false, buf, lead, frameBytes.length);
  const fast = decodeWith(true, buf, lead, frameBytes.length);
  if (gen.ok !== fast.ok) {
    throw new Error(
      `one decoder failed: generated ${gen.ok ? 'ok' : gen.error}, fast ${fast.ok ? 'ok' : fast.error}; input ${Buffer.from(frameBytes).toString('hex')}`,
    );
  }
  if (!gen.ok || !fast.ok) {
    expect(fast).toEqual(gen);
    return gen;
  }
  const d = diff(fast.value, gen.value);
  if (d || fast.pos !== gen.pos)
    throw new Error(
      `decoders differ at ${d || `end position ${fast.pos} vs ${gen.pos}`}; input ${Buffer.from(frameBytes).toString('hex')}`,
    );
  return gen;
}

// ------------------------------------------------------------------ comparing validation outcomes

type Outcome =
  | { kind: 'decode-error'; index: number; error: string }
  | { kind: 'invalid'; code: string; rule: unknown; reason: unknown }
  | { kind: 'ok'; summary: unknown };

/**
 * Info + frames (each the bytes of one Frame) through one decoder and the validator. Like
 * readBackupBatches on a small backup (under 16 KiB: one batch), every frame is decoded before any is
 * validated.
 */
function validateWith(
  fast: boolean,
  info: BackupInfo,
  frames: Uint8Array[],
  purpose: ValidationPurpose,
): Outcome {
  const buf = new Uint8Array(Buffer.concat(frames));
  const decoded: Frame[] = [];
  let start = 0;
  for (let i = 0; i < frames.length; i++) {
    const len = (frames[i] as Uint8Array).length;
    const r = decodeWith(fast, buf, start, len);
    // FrameDecoder's own check: a nested length that ran past the message is a decode error.
    if (!r.ok || r.pos !== start + len)
      return { kind: 'decode-error', index: i, error: r.ok ? 'overrun' : r.error };
    decoded.push(r.value as Frame);
    start += len;
  }
  const v = new BackupValidator({ purpose });
  try {
    v.addInfo(info);
    decoded.forEach((f, i) => {
      v.addFrame(f, { index: i });
    });
    return { kind: 'ok', summary: v.finish() };
  } catch (e) {
    const err = e as { code?: string; details?: { rule?: unknown; reason?: unknown } };
    if (!hasErrorCode(e, BACKUP_INVALID)) throw e;
    return { kind: 'invalid', code: String(err.code), rule: err.details?.rule, reason: err.details?.reason };
  }
}

function expectSameValidation(info: BackupInfo, frames: Uint8Array[], purpose: ValidationPurpose): Outcome {
  const gen = validateWith(false, info, frames, purpose);
  const fast = validateWith(true, info, frames, purpose);
  expect(fast).toEqual(gen);
  return gen;
}

/** The delimited stream of info + frames, as validateBackup reads it. */
function stream(info: BackupInfo, frames: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [encodeDelimitedInfo(info)];
  for (const f of frames) parts.push(new BinaryWriter().uint32(f.length).finish(), f);
  return new Uint8Array(Buffer.concat(parts));
}

/** Splits a delimited backup into its BackupInfo and the bytes of each Frame. */
function splitBackup(bytes: Uint8Array): { info: BackupInfo; frames: Uint8Array[] } {
  const r = new BinaryReader(bytes);
  const infoLen = r.uint32();
  const info = BackupInfo.decode(bytes.subarray(r.pos, r.pos + infoLen));
  r.pos += infoLen;
  const frames: Uint8Array[] = [];
  while (r.pos < bytes.length) {
    const len = r.uint32();
    frames.push(bytes.subarray(r.pos, r.pos + len));
    r.pos += len;
  }
  return { info, frames };
}

// ------------------------------------------------------------------ random chat items

const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: 20_000n }),
  fc.bigInt({ min: 1_500_000_000_000n, max: 1_900_000_000_000n }),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  fc.constantFrom(
    0n,
    127n,
    128n,
    16_383n,
    16_384n,
    2n ** 49n - 1n,
    2n ** 49n,
    2n ** 53n - 1n,
    2n ** 53n,
    2n ** 53n + 1n,
    2n ** 56n,
    2n ** 63n,
    2n ** 64n - 1n,
  ),
);
const u32 = fc.oneof(fc.nat({ max: 300 }), fc.nat({ max: 0xffffffff }));
const enumValue = fc.oneof(
  fc.integer({ min: -2, max: 6 }),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
);
const str = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('', 'ok', '\uFEFFbom first', 'a'.repeat(32), 'b'.repeat(33), '👍', 'Grüße'),
);
const bytes = fc.uint8Array({ maxLength: 40 });
/** Unknown fields as the generated encoder writes them back: tag -> raw bytes after the tag. */
const unknownFields = fc.option(
  fc.constantFrom<Record<number, Uint8Array[]>>(
    { [(99 << 3) | 0]: [Uint8Array.of(0x05)] },
    { [(77 << 3) | 2]: [Uint8Array.of(0x02, 0x41, 0x42)], [(78 << 3) | 5]: [Uint8Array.of(1, 2, 3, 4)] },
    { [(1 << 3) | 5]: [Uint8Array.of(1, 2, 3, 4)] }, // a known field number with the wrong wire type
    { [(3 << 3) | 1]: [Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8)] },
    { [(200 << 3) | 3]: [Uint8Array.of(0x08, 0x01, 0xc4, 0x0c)] }, // a group, ended by tag 1604 (2 bytes)
  ),
  { nil: undefined, freq: 4 },
);
const withUnknown = <T extends object>(a: fc.Arbitrary<T>) =>
  fc.tuple(a, unknownFields).map(([m, u]) => (u ? { ...m, _unknownFields: u } : m));

const locatorInfo = withUnknown(
  fc.record({
    key: bytes,
    integrityCheck: opt(
      fc.oneof(
        bytes.map((b) => ({ $case: 'plaintextHash' as const, plaintextHash: b })),
        bytes.map((b) => ({ $case: 'encryptedDigest' as const, encryptedDigest: b })),
      ),
    ),
    size: u32,
    transitCdnKey: opt(str),
    transitCdnNumber: opt(u32),
    transitTierUploadTimestamp: opt(u64),
    mediaTierCdnNumber: opt(u32),
    localKey: opt(bytes),
  }),
);
const filePointer: fc.Arbitrary<FilePointer> = withUnknown(
  fc.record({
    contentType: opt(str),
    incrementalMac: opt(bytes),
    incrementalMacChunkSize: opt(u32),
    fileName: opt(str),
    width: opt(u32),
    height: opt(u32),
    caption: opt(str),
    blurHash: opt(str),
    locatorInfo: opt(locatorInfo),
  }),
);
const attachment: fc.Arbitrary<MessageAttachment> = withUnknown(
  fc.record({
    pointer: opt(filePointer),
    flag: enumValue,
    wasDownloaded: fc.boolean(),
    clientUuid: opt(bytes),
  }),
);
const text = withUnknown(
  fc.record({
    body: str,
    bodyRanges: fc.array(
      withUnknown(
        fc.record({
          start: u32,
          length: u32,
          associatedValue: opt(
            fc.oneof(
              bytes.map((b) => ({ $case: 'mentionAci' as const, mentionAci: b })),
              enumValue.map((s) => ({ $case: 'style' as const, style: s })),
            ),
          ),
        }),
      ),
      { maxLength: 3 },
    ),
  }),
);
const reaction = withUnknown(fc.record({ emoji: str, authorId: u64, sentTimestamp: u64, sortOrder: u64 }));
const standardMessage: fc.Arbitrary<StandardMessage> = withUnknown(
  fc.record({
    quote: opt(
      fc.record({
        targetSentTimestamp: opt(u64),
        authorId: u64,
        text: opt(text),
        attachments: fc.constant([]),
        type: enumValue,
      }),
    ),
    text: opt(text),
    attachments: fc.array(attachment, { maxLength: 2 }),
    linkPreview: fc.array(
      fc.record({
        url: str,
        title: opt(str),
        image: opt(filePointer),
        description: opt(str),
        date: opt(u64),
      }),
      { maxLength: 1 },
    ),
    longText: opt(filePointer),
    reactions: fc.array(reaction, { maxLength: 3 }),
  }),
);
const sealed = withUnknown(fc.record({ sealedSender: fc.boolean() }));
const sendStatus: fc.Arbitrary<SendStatus> = withUnknown(
  fc.record({
    recipientId: u64,
    timestamp: u64,
    deliveryStatus: opt(
      fc.oneof(
        fc.constant({ $case: 'pending' as const, pending: {} }),
        sealed.map((s) => ({ $case: 'sent' as const, sent: s })),
        sealed.map((s) => ({ $case: 'delivered' as const, delivered: s })),
        sealed.map((s) => ({ $case: 'read' as const, read: s })),
        sealed.map((s) => ({ $case: 'viewed' as const, viewed: s })),
        fc.constant({ $case: 'skipped' as const, skipped: {} }),
        enumValue.map((r) => ({ $case: 'failed' as const, failed: { reason: r } })),
      ),
    ),
  }),
);
const directional = opt(
  fc.oneof(
    withUnknown(
      fc.record({
        dateReceived: u64,
        dateServerSent: opt(u64),
        read: fc.boolean(),
        sealedSender: fc.boolean(),
      }),
    ).map((d) => ({ $case: 'incoming' as const, incoming: d })),
    withUnknown(fc.record({ sendStatus: fc.array(sendStatus, { maxLength: 3 }), dateReceived: u64 })).map(
      (d) => ({
        $case: 'outgoing' as const,
        outgoing: d,
      }),
    ),
    fc.constant({ $case: 'directionless' as const, directionless: {} }),
  ),
);
const chatItemFields = (revisions: fc.Arbitrary<ChatItem[]>): fc.Arbitrary<ChatItem> =>
  withUnknown(
    fc.record({
      chatId: u64,
      authorId: u64,
      dateSent: u64,
      expireStartDate: opt(u64),
      expiresInMs: opt(u64),
      revisions,
      sms: fc.boolean(),
      directionalDetails: directional,
      item: opt(
        fc.oneof(
          {
            weight: 6,
            arbitrary: standardMessage.map((m) => ({
              $case: 'standardMessage' as const,
              standardMessage: m,
            })),
          },
          fc.constant({ $case: 'remoteDeletedMessage' as const, remoteDeletedMessage: {} }),
          fc.constant({ $case: 'adminDeletedMessage' as const, adminDeletedMessage: { adminId: 3n } }),
        ),
      ),
      pinDetails: opt(
        fc.record({
          pinnedAtTimestamp: u64,
          pinExpiry: opt(
            u64.map((t) => ({ $case: 'pinExpiresAtTimestamp' as const, pinExpiresAtTimestamp: t })),
          ),
        }),
      ),
    }),
  ) as fc.Arbitrary<ChatItem>;
const chatItem: fc.Arbitrary<ChatItem> = chatItemFields(
  fc.array(chatItemFields(fc.constant([])), { maxLength: 2 }),
);
const chatItemFrame: fc.Arbitrary<Uint8Array> = withUnknown(
  chatItem.map((c) => ({ item: { $case: 'chatItem' as const, chatItem: c } })),
).map((f) => Frame.encode(f as Frame).finish());

// ------------------------------------------------------------------ byte mutations

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; data: Uint8Array }
  | { op: 'delete'; at: number; n: number }
  | { op: 'truncate'; at: number };
const longVarint = fc
  .tuple(fc.integer({ min: 1, max: 11 }), fc.integer({ min: 0, max: 127 }))
  .map(([n, last]) => Uint8Array.from([...Array(n).fill(0xff), last]));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({
    op: fc.constant('set' as const),
    at: fc.nat(),
    value: fc.constantFrom(0x00, 0x04, 0x07, 0x0c, 0x7f, 0x80, 0xff),
  }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    data: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 6 }), longVarint),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);
function mutate(input: Uint8Array, ms: Mutation[]): Uint8Array {
  let b = Array.from(input);
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % b.length;
    if (m.op === 'flip' && b.length > 0) b[at] = (b[at] as number) ^ (1 << m.bit);
    else if (m.op === 'set' && b.length > 0) b[at] = m.value;
    else if (m.op === 'insert') b.splice(at, 0, ...m.data);
    else if (m.op === 'delete') b.splice(at, m.n);
    else if (m.op === 'truncate') b = b.slice(0, at);
  }
  return Uint8Array.from(b);
}
const trailer = fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 24 }));

// ------------------------------------------------------------------ vectors

const smbtDir = vectorPath('signal-message-backup-tests/test-cases');
const smbtFiles = readdirSync(smbtDir)
  .filter((f) => f.endsWith('.binproto'))
  .sort();
const smbt = smbtFiles.map((f) => ({
  name: f,
  ...splitBackup(new Uint8Array(readFileSync(`${smbtDir}/${f}`))),
}));
const casesDir = vectorPath('libsignal/rust/message-backup/tests/res/test-cases');

const validInfo: BackupInfo = {
  version: 1n,
  backupTimeMs: 1_700_000_000_000n,
  mediaRootBackupKey: new Uint8Array(32).fill(0xab),
  currentAppVersion: '',
  firstAppVersion: '',
  debugInfo: new Uint8Array(0),
};

describe('fast Frame decoder equals the generated decoder', () => {
  it('decodes every frame of the 454 Signal-Message-Backup-Tests cases to the same tree', () => {
    expect(smbtFiles).toHaveLength(454);
    let frames = 0;
    let chatItems = 0;
    for (const b of smbt) {
      const all = new Uint8Array(Buffer.concat(b.frames));
      let start = 0;
      for (const f of b.frames) {
        // decoded in place, with the rest of the backup after it (as in a reader chunk)
        const r = expectSame(f, all.subarray(start + f.length));
        expect(r.ok).toBe(true);
        if (r.ok && (r.value as Frame).item?.$case === 'chatItem') chatItems++;
        start += f.length;
        frames++;
      }
    }
    expect(frames).toBeGreaterThan(2000);
    expect(chatItems).toBeGreaterThan(300);
  });

  it('gives the same validation outcome on the 454 cases under every purpose', () => {
    for (const purpose of VALIDATION_PURPOSES) {
      for (const b of smbt) expect(expectSameValidation(b.info, b.frames, purpose).kind).toBe('ok');
    }
  });

  it('gives the same outcome on the 13 valid and 6 invalid libsignal cases', () => {
    let invalid = 0;
    for (const dir of ['valid', 'invalid']) {
      for (const f of readdirSync(`${casesDir}/${dir}`).filter((x) => x.endsWith('.jsonproto'))) {
        const { info, frames } = parseJsonProto(readFileSync(`${casesDir}/${dir}/${f}`, 'utf8'));
        const bin = frames.map((x) => Frame.encode(x).finish());
        const out = expectSameValidation(info, bin, 'remote-backup');
        expect(out.kind).toBe(dir === 'valid' ? 'ok' : 'invalid');
        if (out.kind === 'invalid') {
          invalid++;
          expect(out.reason).toBe(readFileSync(`${casesDir}/${dir}/${f}.expected`, 'utf8').trim());
        }
      }
    }
    expect(invalid).toBe(6);
  });

  it('random chat-item frames: same tree', () => {
    fc.assert(
      fc.property(chatItemFrame, trailer, (f, t) => {
        expect(expectSame(f, t).ok).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('mutated random chat-item frames: same tree or the same error', () => {
    fc.assert(
      fc.property(chatItemFrame, fc.array(mutation, { minLength: 1, maxLength: 4 }), trailer, (f, ms, t) => {
        expectSame(mutate(f, ms), t);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('mutated frames of the 454 cases: same tree or the same error, and the same validation outcome', () => {
    const sample = fc.record({
      file: fc.nat({ max: smbt.length - 1 }),
      frame: fc.nat(),
      ms: fc.array(mutation, { minLength: 1, maxLength: 3 }),
      purpose: fc.constantFrom(...VALIDATION_PURPOSES),
    });
    fc.assert(
      fc.property(sample, ({ file, frame, ms, purpose }) => {
        const b = smbt[file] as (typeof smbt)[number];
        const i = frame % b.frames.length;
        const frames = [...b.frames];
        frames[i] = mutate(frames[i] as Uint8Array, ms);
        expectSame(frames[i] as Uint8Array, new Uint8Array(Buffer.concat(frames.slice(i + 1))));
        expectSameValidation(b.info, frames, purpose);
      }),
      { numRuns: RUNS },
    );
  });

  it('random backups of random chat items: same validation outcome, and validateBackup agrees', async () => {
    // A valid preamble (account, self, one contact, chats) so the chat items reach the item rules.
    const base = smbt.find((b) => b.name.startsWith('chat_item_standard_message'))?.frames ?? [];
    const preamble = base.filter((f) => Frame.decode(f).item?.$case !== 'chatItem');
    await fc.assert(
      fc.asyncProperty(
        fc.array(chatItemFrame, { minLength: 1, maxLength: 4 }),
        fc.constantFrom(...VALIDATION_PURPOSES),
        async (items, purpose) => {
          const frames = [...preamble, ...items];
          const out = expectSameValidation(validInfo, frames, purpose);
          const r = await validateBackup(stream(validInfo, frames), { purpose });
          if (out.kind === 'ok') expect(r.ok).toBe(true);
          else if (out.kind === 'invalid') {
            expect(r.ok ? 'ok' : r.error.details).toMatchObject({ rule: out.rule, reason: out.reason });
          } else expect(r.ok ? 'ok' : r.error.code).toBe('COFFER_ERR_FRAME_DECODE');
        },
      ),
      { numRuns: Math.ceil(RUNS / 3) },
    );
    expect(preamble.length).toBeGreaterThan(2);
  });
});

describe('fast Frame decoder edge cases (same result or error as the generated decoder)', () => {
  const w = () => new BinaryWriter();
  /** A ChatItem frame whose ChatItem body is `body`. */
  const frameOf = (body: Uint8Array) => w().uint32(34).bytes(body).finish();

  it('uint64 values around 2^49, 2^53 and 2^64, in every varint length up to 10 bytes', () => {
    for (const v of [
      0n,
      1n,
      16_383n,
      16_384n,
      2n ** 49n - 1n,
      2n ** 49n,
      2n ** 53n,
      2n ** 63n,
      2n ** 64n - 1n,
    ]) {
      const r = expectSame(frameOf(w().uint32(24).uint64(v).finish()));
      expect(r.ok && (r.value as Frame).item?.$case === 'chatItem' && r.value).toMatchObject({
        item: { chatItem: { dateSent: v } },
      });
    }
    // non-minimal varints (padded with 0x80 continuation bytes), up to the 10-byte limit and past it
    for (let n = 1; n <= 11; n++) {
      const padded = Uint8Array.from([...Array(n).fill(0x85), 0x01]);
      expectSame(frameOf(Uint8Array.from([24, ...padded])));
      expectSame(frameOf(Uint8Array.from([8, ...padded])));
      expectSame(Uint8Array.from([34, ...padded, 8, 1])); // as a length
      expectSame(frameOf(Uint8Array.from([56, ...padded]))); // bool
    }
    expectSame(frameOf(Uint8Array.from([24, 0x80, 0x80])), new Uint8Array(0)); // varint runs off the buffer
    expectSame(frameOf(Uint8Array.from([24, 0x80, 0x80])), Uint8Array.of(0x80, 0x01));
  });

  it('tags: field 0, END_GROUP, wrong wire types, groups, reserved wire types 6 and 7', () => {
    for (const tag of [
      0,
      4,
      12,
      7 << 3,
      (1 << 3) | 2,
      (1 << 3) | 5,
      (1 << 3) | 1,
      6,
      7,
      (9 << 3) | 6,
      (11 << 3) | 0,
    ]) {
      expectSame(frameOf(Uint8Array.from([tag, 1, 1, 1, 1, 1, 1, 1, 1, 1])));
      expectSame(Uint8Array.from([tag, 1, 2, 3, 4, 5, 6, 7, 8]));
    }
    expectSame(frameOf(Uint8Array.from([(5 << 3) | 3, 8, 1, (5 << 3) | 4]))); // a group, skipped and kept
    expectSame(frameOf(Uint8Array.from([(5 << 3) | 3, 8, 1]))); // an unterminated group
    expectSame(frameOf(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x10, 1]))); // tag over 32 bits
  });

  it('strings: invalid UTF-8, a BOM, ASCII of every length around 32, non-ASCII, running past the end', () => {
    const bodies = [
      Uint8Array.of(0xc3, 0x28),
      Uint8Array.of(0xed, 0xa0, 0x80),
      Uint8Array.of(0xef, 0xbb, 0xbf, 0x41),
      new Uint8Array(31).fill(0x61),
      new Uint8Array(32).fill(0x61),
      new Uint8Array(33).fill(0x61),
      Uint8Array.of(0x61, 0x80),
      new TextEncoder().encode('héllo wörld, this is longer than thirty-two bytes'),
    ];
    for (const b of bodies) {
      const textMsg = w().uint32(10).bytes(b).finish();
      const std = w().uint32(18).bytes(textMsg).finish();
      expectSame(frameOf(w().uint32(90).bytes(std).finish()));
    }
    expectSame(frameOf(Uint8Array.from([90, 4, 18, 2, 10, 40, 0x61])), new Uint8Array(60).fill(0x61)); // into the trailer
    expectSame(frameOf(Uint8Array.from([90, 4, 18, 2, 10, 40, 0x61]))); // off the buffer
  });

  it('a nested length running past its parent, and bytes fields running off the buffer', () => {
    // incoming details claim 2 bytes but their varint field takes 3: the generated decoder reads on
    expectSame(frameOf(Uint8Array.from([66, 2, 8, 0x80, 0x01, 56, 1])));
    expectSame(frameOf(Uint8Array.from([90, 3, 26, 1, 10, 2, 106, 0])));
    expectSame(Uint8Array.from([34, 3, 90, 1, 18, 9]));
    expectSame(frameOf(Uint8Array.from([90, 6, 26, 4, 34, 2, 0xff, 0xff])), Uint8Array.of(1));
  });

  it('the recursion limit of 100 nested messages (revisions of revisions)', () => {
    for (const depth of [97, 98, 99, 100, 101]) {
      let item: Uint8Array = w().uint32(8).uint64(1n).finish();
      for (let d = 0; d < depth; d++) item = w().uint32(50).bytes(item).finish();
      const r = expectSame(frameOf(item));
      // and under the innermost revision, a delegated message (pin details) and a hand-decoded one
      let withPin: Uint8Array = w().uint32(170).bytes(w().uint32(8).uint64(5n).finish()).finish();
      let withText: Uint8Array = w()
        .uint32(90)
        .bytes(w().uint32(18).bytes(new Uint8Array(0)).finish())
        .finish();
      for (let d = 0; d < depth; d++) {
        withPin = w().uint32(50).bytes(withPin).finish();
        withText = w().uint32(50).bytes(withText).finish();
      }
      expectSame(frameOf(withPin));
      expectSame(frameOf(withText));
      expect(r.ok).toBe(depth < 99);
    }
  });

  it('strings stay right when a caller refills the same buffer for the next push, and in huge chunks', () => {
    const frameWith = (body: string) =>
      encodeDelimitedFrame({
        item: {
          $case: 'chatItem',
          chatItem: {
            chatId: 1n,
            authorId: 1n,
            dateSent: 1n,
            revisions: [],
            sms: false,
            directionalDetails: undefined,
            item: {
              $case: 'standardMessage',
              standardMessage: {
                text: { body, bodyRanges: [] },
                attachments: [],
                linkPreview: [],
                reactions: [],
              },
            },
            pinDetails: undefined,
          },
        },
      });
    const bodyOf = (it: BackupItem | undefined) =>
      it?.kind === 'frame' &&
      it.frame.item?.$case === 'chatItem' &&
      it.frame.item.chatItem.item?.$case === 'standardMessage'
        ? it.frame.item.chatItem.item.standardMessage.text?.body
        : undefined;
    const a = frameWith('first message, long enough to be a slice');
    const b = frameWith('other message, long enough to be a slice');
    expect(a.length).toBe(b.length);
    const dec = new FrameDecoder();
    const out: BackupItem[] = [];
    dec.push(encodeDelimitedInfo(validInfo), out);
    const chunk = a.slice();
    dec.push(chunk, out);
    chunk.set(b); // the same Uint8Array, new content
    dec.push(chunk, out);
    expect(out.slice(1).map(bodyOf)).toEqual([
      'first message, long enough to be a slice',
      'other message, long enough to be a slice',
    ]);
    // one 600 KB chunk: strings far apart are each read from their own window
    const many = Array.from({ length: 8000 }, (_, i) => frameWith(`message number ${i} of many, ascii only`));
    const big = new Uint8Array(Buffer.concat([encodeDelimitedInfo(validInfo), ...many]));
    const all: BackupItem[] = [];
    new FrameDecoder().push(big, all);
    expect(all.slice(1).map(bodyOf)).toEqual(many.map((_, i) => `message number ${i} of many, ascii only`));
  });

  it('without Buffer (as in browsers: the WHATWG latin1 decoder), every vector frame decodes the same', async () => {
    vi.resetModules();
    vi.stubGlobal('Buffer', undefined);
    let browserLike: typeof import('../src/fast-decode.ts');
    try {
      browserLike = await import('../src/fast-decode.ts');
    } finally {
      vi.unstubAllGlobals();
    }
    expect(browserLike.decodeFrame).not.toBe(decodeFrame); // a fresh module that saw no Buffer
    let frames = 0;
    for (const b of smbt) {
      const all = new Uint8Array(Buffer.concat(b.frames));
      let start = 0;
      const reader = new BinaryReader(all);
      for (const f of b.frames) {
        reader.pos = start;
        const fast = browserLike.decodeFrame(reader, all, f.length);
        const gen = Frame.decode(all.subarray(start, start + f.length));
        expect(diff(fast, gen)).toBe('');
        frames++;
        start += f.length;
      }
    }
    expect(frames).toBeGreaterThan(2000);
  });

  it('frames of every other kind go through the generated decoders unchanged', () => {
    for (const b of smbt.slice(0, 40)) for (const f of b.frames) expectSame(f);
    expectSame(new Uint8Array(0));
    expectSame(encodeDelimitedFrame({ item: undefined }).subarray(1));
  });
});
