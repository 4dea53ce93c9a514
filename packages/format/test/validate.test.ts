import { readdirSync, readFileSync } from 'node:fs';
import { hasErrorCode } from '@coffer/crypto';
import { describe, expect, it } from 'vitest';
import { vectorPath } from '../../../test-support/vectors.ts';
import { readBackupAll } from '../src/frame-reader.ts';
import { writeBackup } from '../src/frame-writer.ts';
import type { BackupInfo, Frame } from '../src/gen/Backup.ts';
import { BACKUP_INVALID, BackupValidator, VALIDATION_PURPOSES, validateBackup } from '../src/index.ts';
import { parseJsonProto } from '../src/json-form.ts';

const smbtDir = vectorPath('signal-message-backup-tests/test-cases');
const smbtFiles = readdirSync(smbtDir)
  .filter((f) => f.endsWith('.binproto'))
  .sort();
const casesDir = vectorPath('libsignal/rust/message-backup/tests/res/test-cases');
const report = JSON.parse(
  readFileSync(vectorPath('generated/smbt-validation-report.json'), 'utf8'),
) as unknown;

function run(info: BackupInfo, frames: Frame[], purpose = 'remote-backup' as const) {
  const v = new BackupValidator({ purpose });
  v.addInfo(info);
  frames.forEach((f, i) => {
    v.addFrame(f, { index: i });
  });
  return v.finish();
}

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(hasErrorCode(e, BACKUP_INVALID)).toBe(true);
    return String((e as { details: { reason: string } }).details.reason);
  }
  return 'ok';
}

describe('validator on the upstream vectors', () => {
  it('libsignal accepted all SMBT cases (the report we compare against)', () => {
    expect(JSON.stringify(report)).toContain('binproto');
    expect(smbtFiles).toHaveLength(454);
  });

  for (const purpose of VALIDATION_PURPOSES) {
    it(`accepts all 454 Signal-Message-Backup-Tests cases for ${purpose}`, async () => {
      const failures: string[] = [];
      let items = 0;
      let expectedItems = 0;
      for (const f of smbtFiles) {
        const bytes = readFileSync(`${smbtDir}/${f}`);
        const r = await validateBackup(bytes, { purpose });
        if (!r.ok) failures.push(`${f}: ${r.error.message}`);
        else {
          items += r.summary.chatItems;
          expect(r.warnings).toEqual([]); // the report says: no unknown fields in any case
        }
        expectedItems += (await readBackupAll(bytes)).frames.filter(
          (x) => x.item?.$case === 'chatItem',
        ).length;
      }
      expect(failures).toEqual([]);
      expect(items).toBe(expectedItems);
    });
  }

  const valid = readdirSync(`${casesDir}/valid`).filter((f) => f.endsWith('.jsonproto'));
  it('has the 13 valid and 6 invalid libsignal cases', () => {
    expect(valid).toHaveLength(13);
    expect(readdirSync(`${casesDir}/invalid`).filter((f) => f.endsWith('.jsonproto'))).toHaveLength(6);
  });
  for (const f of valid) {
    it(`accepts libsignal valid/${f}`, () => {
      const { info, frames } = parseJsonProto(readFileSync(`${casesDir}/valid/${f}`, 'utf8'));
      const s = run(info, frames);
      expect(s.framesByKind.account).toBe(1);
    });
  }
  for (const f of readdirSync(`${casesDir}/valid-encrypted`).filter((x) => x.endsWith('.source.jsonproto'))) {
    it(`accepts the plaintext of libsignal valid-encrypted/${f} under every purpose`, () => {
      const { info, frames } = parseJsonProto(readFileSync(`${casesDir}/valid-encrypted/${f}`, 'utf8'));
      for (const purpose of VALIDATION_PURPOSES) {
        const v = new BackupValidator({ purpose });
        v.addInfo(info);
        frames.forEach((fr, i) => {
          v.addFrame(fr, { index: i });
        });
        expect(v.finish().framesByKind.account).toBe(1);
      }
    });
  }
  it('accepts libsignal canonical-backup.binproto', async () => {
    const bytes = readFileSync(
      vectorPath('libsignal/rust/message-backup/tests/res/canonical-backup.binproto'),
    );
    const r = await validateBackup(bytes, { purpose: 'remote-backup' });
    expect(r.ok && r.summary.recipients).toBe(4);
  });
  for (const f of readdirSync(`${casesDir}/invalid`).filter((x) => x.endsWith('.jsonproto'))) {
    it(`rejects libsignal invalid/${f} with libsignal's message`, () => {
      const expected = readFileSync(`${casesDir}/invalid/${f}.expected`, 'utf8').trim();
      const { info, frames } = parseJsonProto(readFileSync(`${casesDir}/invalid/${f}`, 'utf8'));
      expect(reasonOf(() => run(info, frames))).toBe(expected);
    });
  }
});

describe('validator API', () => {
  const base = () =>
    parseJsonProto(readFileSync(`${casesDir}/valid/simple-chat-update-message.jsonproto`, 'utf8'));

  it('reports the rule, the frame index, the byte offset and the chat of the failing frame', async () => {
    const { info, frames } = base();
    const ci = frames.findIndex((f) => f.item?.$case === 'chatItem');
    const item = frames[ci]?.item;
    if (item?.$case !== 'chatItem') throw new Error('fixture has no chat item');
    item.chatItem.chatId = 4242n;
    const parts: Uint8Array[] = [];
    for await (const c of writeBackup(info, frames)) parts.push(c);
    const r = await validateBackup(Buffer.concat(parts), { purpose: 'device-transfer' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe(BACKUP_INVALID);
    const d = r.error.details as Record<string, unknown>;
    expect(d.rule).toBe('chat-item-no-chat');
    expect(d.frameIndex).toBe(ci);
    expect(typeof d.byteOffset).toBe('number');
    expect(d.byteOffset as number).toBeGreaterThan(0);
    expect(d.chatId).toBe('4242');
    expect(d.reason).toMatch(/^chat frame ChatId\(4242\) error: chat item \d+: no record for chat$/);
    expect(r.error.message).toContain(`frame ${ci}`);
  });

  it('reports unknown fields as warnings, never as errors, and keeps them', async () => {
    const { info, frames } = base();
    const f0 = frames[0] as Frame;
    f0._unknownFields = { [(99 << 3) | 0]: [new Uint8Array([0x98, 0x06, 0x05])] };
    const s = run(info, frames);
    expect(s.framesWithUnknownFields).toBe(1);
    expect(s.warnings[0]).toMatch(/^frame 0 \(account\): .*unknown field 99 \(wire type 0\)$/);
  });

  it('finds unknown fields deep inside chat items (the hand-written hot path) and elsewhere', () => {
    const { info, frames } = parseJsonProto(
      readFileSync(`${casesDir}/valid/incoming-message-with-edits.jsonproto`, 'utf8'),
    );
    const idx = frames.findIndex((f) => f.item?.$case === 'chatItem');
    const it = frames[idx]?.item;
    if (it?.$case !== 'chatItem' || it.chatItem.item?.$case !== 'standardMessage')
      throw new Error('fixture changed');
    const text = it.chatItem.item.standardMessage.text;
    if (text === undefined) throw new Error('fixture changed');
    text._unknownFields = { [(77 << 3) | 2]: [new Uint8Array([0xea, 0x04, 0x01, 0x41])] };
    const rev = it.chatItem.revisions[0];
    if (rev === undefined) throw new Error('fixture changed');
    rev._unknownFields = { [(66 << 3) | 0]: [new Uint8Array([0x90, 0x04, 0x01])] };
    const s = run(info, frames);
    expect(s.framesWithUnknownFields).toBe(1);
    expect(s.warnings.join('\n')).toContain('unknown field 77 (wire type 2)');
    expect(s.warnings.join('\n')).toContain('unknown field 66 (wire type 0)');
  });

  it('cannot be reused after it has reported an error', () => {
    const { info, frames } = base();
    const v = new BackupValidator({ purpose: 'remote-backup' });
    v.addInfo(info);
    expect(() => v.addFrame({ item: undefined }, { index: 0 })).toThrow(/not valid/);
    expect(() => v.addFrame(frames[0] as Frame, { index: 1 })).toThrow(TypeError);
    expect(() => v.finish()).toThrow(TypeError);
  });

  it('rejects an empty frame (no item) like libsignal', () => {
    const { info, frames } = base();
    frames.push({ item: undefined });
    expect(reasonOf(() => run(info, frames))).toBe(
      'Frame.item is a oneof but has no value with no unknown fields',
    );
  });

  it('checks BackupInfo: a 31-byte media root key is rejected', () => {
    const { info, frames } = base();
    info.mediaRootBackupKey = info.mediaRootBackupKey.subarray(0, 31);
    expect(reasonOf(() => run(info, frames))).toBe(
      'BackupInfo error: invalid mediaRootBackupKey (expected 32 bytes, got 31)',
    );
  });

  it('requires the Self recipient at completion', () => {
    const { info, frames } = base();
    const self = frames.findIndex(
      (f) => f.item?.$case === 'recipient' && f.item.recipient.destination?.$case === 'self',
    );
    const onlyHeader = frames.filter(
      (f, i) => i !== self && (f.item?.$case === 'account' || f.item?.$case === 'stickerPack'),
    );
    expect(reasonOf(() => run(info, onlyHeader))).toBe('no Self recipient found');
  });

  it('applies expiration rules by purpose', () => {
    const { info, frames } = base();
    // a standard message sent by Self that disappears one hour after the backup was made
    let selfId = 0n;
    for (const f of frames) {
      if (f.item?.$case === 'recipient' && f.item.recipient.destination?.$case === 'self')
        selfId = f.item.recipient.id;
    }
    const chat = frames.find((f) => f.item?.$case === 'chat')?.item as { chat: { id: bigint } };
    const item: Frame = {
      item: {
        $case: 'chatItem',
        chatItem: {
          chatId: chat.chat.id,
          authorId: selfId,
          dateSent: info.backupTimeMs,
          expireStartDate: info.backupTimeMs,
          expiresInMs: 3_600_000n,
          revisions: [],
          sms: false,
          directionalDetails: {
            $case: 'outgoing',
            outgoing: { sendStatus: [], dateReceived: info.backupTimeMs },
          },
          item: {
            $case: 'standardMessage',
            standardMessage: {
              text: { body: 'hi', bodyRanges: [] },
              attachments: [],
              linkPreview: [],
              reactions: [],
            },
          },
          pinDetails: undefined,
        },
      },
    };
    const withItem = [...frames, item];
    // only if the chat is a 1:1 chat with Self or a contact can Self write there; the fixture's chat is one
    expect(() => run(info, withItem)).toThrow();
    const v = (purpose: 'remote-backup' | 'device-transfer' | 'takeout-export') => {
      const x = new BackupValidator({ purpose });
      x.addInfo(info);
      withItem.forEach((f, i) => {
        x.addFrame(f, { index: i });
      });
      return x.finish();
    };
    expect(reasonOf(() => v('remote-backup'))).toMatch(
      /expiration too soon: expires 3600s after backup creation$/,
    );
    expect(reasonOf(() => v('takeout-export'))).toMatch(
      /expiration timers are not allowed for takeout-export$/,
    );
    expect(v('device-transfer').chatItems).toBeGreaterThan(0);
  });

  it('refuses misuse: frames before BackupInfo, an unknown purpose', () => {
    const v = new BackupValidator({ purpose: 'remote-backup' });
    expect(() => v.addFrame({ item: undefined })).toThrow(TypeError);
    // @ts-expect-error: not a purpose
    expect(() => new BackupValidator({ purpose: 'cloud' })).toThrow(TypeError);
  });

  it('returns framing errors of the reader as results (a truncated file), not exceptions', async () => {
    const bytes = readFileSync(`${smbtDir}/${smbtFiles[0]}`);
    const r = await validateBackup(bytes.subarray(0, bytes.length - 3), { purpose: 'remote-backup' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.code).toBe('COFFER_ERR_FRAME_TRUNCATED');
  });

  it('reads through the frame reader: a file read in small chunks validates the same', async () => {
    const bytes = readFileSync(`${smbtDir}/${smbtFiles[0]}`);
    const chunks = function* () {
      for (let i = 0; i < bytes.length; i += 7) yield bytes.subarray(i, i + 7);
    };
    const r = await validateBackup(chunks(), { purpose: 'remote-backup' });
    expect(r.ok).toBe(true);
    const all = await readBackupAll(bytes);
    if (r.ok) expect(r.summary.frames).toBe(all.frames.length);
  });
});
