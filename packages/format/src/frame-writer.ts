// Writer for the plaintext backup stream (spec 3.3 step 1): varint32 length + BackupInfo, then
// varint32 length + Frame for each frame. The output is what @coffer/crypto's sealBackup expects.
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { CofferError } from '@coffer/crypto';
import { BackupInfo, Frame } from './gen/Backup.ts';

export interface WriteOptions {
  /** Frames per yielded chunk (default 512, about 50 KiB of typical chat items). */
  framesPerChunk?: number;
}

/** Encodes one message with its varint length prefix (tests and small tools). */
export function encodeDelimitedFrame(frame: Frame): Uint8Array {
  const w = new BinaryWriter();
  w.fork();
  Frame.encode(frame, w);
  w.join();
  return w.finish();
}

/** Encodes the BackupInfo with its varint length prefix. */
export function encodeDelimitedInfo(info: BackupInfo): Uint8Array {
  const w = new BinaryWriter();
  w.fork();
  BackupInfo.encode(info, w);
  w.join();
  return w.finish();
}

/** Streams BackupInfo then every frame, varint-delimited, `framesPerChunk` frames per chunk. */
export async function* writeBackup(
  info: BackupInfo,
  frames: AsyncIterable<Frame> | Iterable<Frame>,
  opts: WriteOptions = {},
): AsyncGenerator<Uint8Array> {
  const perChunk = opts.framesPerChunk ?? 512;
  if (!Number.isSafeInteger(perChunk) || perChunk < 1)
    throw new RangeError('framesPerChunk must be a positive integer');
  // One writer per chunk with fork/join for the length prefixes: about 5x faster than
  // encoding each frame to its own array and copying (measured, README "Figures").
  let w = new BinaryWriter();
  encodeOrThrow(() => BackupInfo.encode(info, w.fork()).join(), null);
  let index = 0;
  let inChunk = 0;
  const add = (frame: Frame): Uint8Array | undefined => {
    encodeOrThrow(() => Frame.encode(frame, w.fork()).join(), index);
    index++;
    if (++inChunk < perChunk) return undefined;
    inChunk = 0;
    const out = w.finish();
    w = new BinaryWriter();
    return out;
  };
  if (Symbol.asyncIterator in frames) {
    for await (const frame of frames) {
      const out = add(frame);
      if (out) yield out;
    }
  } else {
    // A sync source is read without an await per frame.
    for (const frame of frames) {
      const out = add(frame);
      if (out) yield out;
    }
  }
  const last = w.finish();
  if (last.length > 0) yield last;
}

function encodeOrThrow(f: () => unknown, frameIndex: number | null): void {
  try {
    f();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const what = frameIndex === null ? 'The BackupInfo' : `Frame ${frameIndex}`;
    throw new CofferError('COFFER_ERR_FRAME_ENCODE', `${what} cannot be encoded: ${reason}.`, {
      cause: err,
      details: { frameIndex, reason },
    });
  }
}
