import { describe, expect, it } from 'vitest';
import { BackupInfo, Frame } from '../src/gen/Backup.ts';
import { backupToJsonProtoText, parseJsonProto } from '../src/json-form.ts';

const info =
  '{"version":"1","backupTimeMs":"1705692409729","mediaRootBackupKey":"q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="}';

function codeOf(f: () => unknown): { code?: string; message?: string; details?: Record<string, unknown> } {
  try {
    f();
  } catch (err) {
    return err as { code?: string };
  }
  return { code: 'no error' };
}

describe('.jsonproto form', () => {
  it('maps int64 to strings, bytes to base64 and enums to names, and back', async () => {
    const frame: Frame = {
      item: {
        $case: 'chat',
        chat: {
          id: 18_446_744_073_709_551_615n, // uint64 max survives (no float rounding)
          recipientId: 2n,
          archived: false,
          pinnedOrder: 3,
          expirationTimerMs: 9_007_199_254_740_993n,
          markedUnread: false,
          dontNotifyForMentionsIfMuted: true,
          style: undefined,
          expireTimerVersion: 1,
        },
      },
    } as Frame;
    const text = await backupToJsonProtoText(BackupInfo.fromJSON(JSON.parse(info)), [frame]);
    expect(text).toContain('"id":"18446744073709551615"');
    expect(text).toContain('"expirationTimerMs":"9007199254740993"');
    expect(text).toContain('"mediaRootBackupKey":"q6ur');
    const back = parseJsonProto(text);
    expect(Frame.encode(back.frames[0] as Frame).finish()).toEqual(Frame.encode(frame).finish());
  });

  it('keeps enum values it does not know as numbers (proto3 JSON), losslessly', async () => {
    const f = parseJsonProto(
      `[${info}, {"account": {"profileKey": "", "accountSettings": {"appTheme": 57}}}]`,
    );
    const text = await backupToJsonProtoText(f.info, f.frames);
    expect(text).toContain('"appTheme":57');
    const bin = Frame.encode(f.frames[0] as Frame).finish();
    expect(Frame.encode(Frame.decode(bin)).finish()).toEqual(bin);
  });

  it('accepts JSON5 (comments, trailing commas) like the upstream files', () => {
    const f = parseJsonProto(
      `// a comment\n[${info}, {"stickerPack": {"packId": "AAAAAAAAAAAAAAAAAAAAAA==", "packKey": ""},},]`,
    );
    expect(f.frames).toHaveLength(1);
  });

  it('rejects unknown keys, two members of a oneof, unknown enum names, bad shapes, with the location', () => {
    expect(codeOf(() => parseJsonProto(`[${info}, {"chat": {"id": "1", "recipentId": "2"}}]`))).toMatchObject(
      {
        code: 'COFFER_ERR_JSON_SHAPE',
        details: { frameIndex: 0, path: 'chat.recipentId' },
      },
    );
    expect(codeOf(() => parseJsonProto(`[${info}, {"chat": {"id": "1"}, "account": {}}]`))).toMatchObject({
      code: 'COFFER_ERR_JSON_SHAPE',
      details: { frameIndex: 0, path: 'account' },
    });
    expect(
      codeOf(() => parseJsonProto(`[${info}, {"account": {"accountSettings": {"appTheme": "PURPLE"}}}]`)),
    ).toMatchObject({ code: 'COFFER_ERR_JSON_SHAPE', details: { frameIndex: 0 } });
    expect(codeOf(() => parseJsonProto('{"version": "1"}')).code).toBe('COFFER_ERR_JSON_SHAPE');
    expect(codeOf(() => parseJsonProto('[]')).code).toBe('COFFER_ERR_JSON_SHAPE');
    expect(codeOf(() => parseJsonProto(`[${info}, {"chatItem": {"revisions": {}}}]`)).code).toBe(
      'COFFER_ERR_JSON_SHAPE',
    );
    expect(codeOf(() => parseJsonProto(`[${info}, {"chat": {"id": "1.5"}}]`)).code).toBe(
      'COFFER_ERR_JSON_SHAPE',
    );
    expect(codeOf(() => parseJsonProto('[{"version": 1,]')).code).toBe('COFFER_ERR_JSON_SYNTAX');
  });

  it('refuses to drop unknown fields silently when writing JSON', async () => {
    const bin = Uint8Array.from([
      ...Frame.encode({
        item: {
          $case: 'stickerPack',
          stickerPack: { packId: new Uint8Array(16), packKey: new Uint8Array(32) },
        },
      }).finish(),
      0x98,
      0x06,
      0x07,
    ]);
    const frame = Frame.decode(bin);
    const i = BackupInfo.fromJSON(JSON.parse(info));
    await expect(backupToJsonProtoText(i, [frame])).rejects.toMatchObject({
      code: 'COFFER_ERR_JSON_UNKNOWN_FIELDS',
    });
    const seen: unknown[] = [];
    await backupToJsonProtoText(i, [frame], {
      onUnknownFields: (index, fields) => seen.push({ index, fields }),
    });
    expect(seen).toEqual([
      { index: 0, fields: [{ path: '', fieldNumber: 99, wireType: 0, occurrences: 1 }] },
    ]);
  });
});
