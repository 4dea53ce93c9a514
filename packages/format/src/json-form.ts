// The proto3 JSON form of a backup, `.jsonproto` (spec 4): a JSON5 array `[BackupInfo, Frame, ...]`
// in the standard proto3 JSON mapping (64-bit integers as strings, bytes as base64, enums by name).
import { CofferError } from '@coffer/crypto';
import JSON5 from 'json5';
import { BackupInfo, Frame } from './gen/Backup.ts';
import { JSON_FIELDS } from './gen/json-fields.ts';
import { collectUnknownFields, type UnknownField } from './unknown-fields.ts';

const INFO_TYPE = 'signal.backup.BackupInfo';
const FRAME_TYPE = 'signal.backup.Frame';

/**
 * Parses `.jsonproto` text. Strict: unknown or misspelt keys, two members of one oneof, unknown
 * enum names and malformed values are errors (ts-proto's fromJSON alone would skip them).
 */
export function parseJsonProto(text: string): { info: BackupInfo; frames: Frame[] } {
  let doc: unknown;
  try {
    doc = JSON5.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new CofferError('COFFER_ERR_JSON_SYNTAX', `The file is not valid JSON5 (${reason}).`, {
      cause: err,
      details: { reason },
    });
  }
  if (!Array.isArray(doc) || doc.length === 0) {
    throw shapeError(
      null,
      '',
      'the file must be a JSON array [BackupInfo, Frame, ...] with at least the BackupInfo',
    );
  }
  const info = convert(doc[0], INFO_TYPE, null, (o) => BackupInfo.fromJSON(o));
  const frames: Frame[] = [];
  for (let i = 1; i < doc.length; i++)
    frames.push(convert(doc[i], FRAME_TYPE, i - 1, (o) => Frame.fromJSON(o)));
  return { info, frames };
}

function convert<T>(value: unknown, type: string, frameIndex: number | null, fromJson: (o: unknown) => T): T {
  checkShape(value, type, '', frameIndex);
  try {
    return fromJson(value);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw shapeError(frameIndex, '', `a value is malformed (${reason})`);
  }
}

function checkShape(value: unknown, type: string, path: string, frameIndex: number | null): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw shapeError(frameIndex, path, `expected an object (${type.replace('signal.backup.', '')})`);
  }
  const fields = JSON_FIELDS[type];
  if (fields === undefined) throw shapeError(frameIndex, path, `unknown message type ${type}`);
  const oneofSeen = new Map<number, string>();
  for (const [key, v] of Object.entries(value)) {
    const field = fields[key];
    const sub = path === '' ? key : `${path}.${key}`;
    if (field === undefined) throw shapeError(frameIndex, sub, 'unknown field');
    // proto3 JSON: null means "field not set".
    if (v === null) continue;
    const [nested, oneof, repeated] = field;
    if (oneof >= 0) {
      const other = oneofSeen.get(oneof);
      if (other !== undefined)
        throw shapeError(frameIndex, sub, `both "${other}" and "${key}" of one oneof are set`);
      oneofSeen.set(oneof, key);
    }
    if (repeated === 1 && !Array.isArray(v)) throw shapeError(frameIndex, sub, 'expected an array');
    if (repeated === 0 && Array.isArray(v)) throw shapeError(frameIndex, sub, 'did not expect an array');
    if (nested !== '') {
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) checkShape(v[i], nested, `${sub}[${i}]`, frameIndex);
      } else checkShape(v, nested, sub, frameIndex);
    }
  }
}

function shapeError(frameIndex: number | null, path: string, what: string): CofferError {
  const where =
    frameIndex === null
      ? 'BackupInfo (array element 0)'
      : `frame ${frameIndex} (array element ${frameIndex + 1})`;
  return new CofferError(
    'COFFER_ERR_JSON_SHAPE',
    `In ${where}${path === '' ? '' : ` at "${path}"`}: ${what}.`,
    {
      details: { frameIndex, path },
    },
  );
}

export interface JsonWriteOptions {
  /**
   * Called for each message that has unknown fields (they have no proto3 JSON form). Without it
   * such a backup cannot be written as JSON: COFFER_ERR_JSON_UNKNOWN_FIELDS.
   */
  onUnknownFields?: (frameIndex: number | null, fields: UnknownField[]) => void;
}

/** Streams the `.jsonproto` text (plain JSON, which is valid JSON5), one message per line. */
export async function* backupToJsonProto(
  info: BackupInfo,
  frames: AsyncIterable<Frame> | Iterable<Frame>,
  opts: JsonWriteOptions = {},
): AsyncGenerator<string> {
  checkUnknown(info, null, opts);
  yield `[\n${JSON.stringify(BackupInfo.toJSON(info))}`;
  let i = 0;
  let batch = '';
  for await (const frame of frames as AsyncIterable<Frame>) {
    checkUnknown(frame, i, opts);
    batch += `,\n${JSON.stringify(Frame.toJSON(frame))}`;
    i++;
    if (batch.length >= 64 * 1024) {
      yield batch;
      batch = '';
    }
  }
  yield `${batch}\n]\n`;
}

/** Whole-text convenience form of backupToJsonProto. */
export async function backupToJsonProtoText(
  info: BackupInfo,
  frames: AsyncIterable<Frame> | Iterable<Frame>,
  opts: JsonWriteOptions = {},
): Promise<string> {
  let s = '';
  for await (const part of backupToJsonProto(info, frames, opts)) s += part;
  return s;
}

function checkUnknown(message: BackupInfo | Frame, frameIndex: number | null, opts: JsonWriteOptions): void {
  const unknown = collectUnknownFields(message);
  if (unknown.length === 0) return;
  if (opts.onUnknownFields) {
    opts.onUnknownFields(frameIndex, unknown);
    return;
  }
  const where = frameIndex === null ? 'The BackupInfo' : `Frame ${frameIndex}`;
  throw new CofferError(
    'COFFER_ERR_JSON_UNKNOWN_FIELDS',
    `${where} has fields this version of Coffer does not know; they cannot be written as JSON. Update Coffer, or keep the binary form.`,
    { details: { frameIndex, fields: unknown.map((u) => `${u.path}#${u.fieldNumber}`) } },
  );
}
