// Writer for the plaintext backup stream (spec 3.3 step 1): varint32 length + BackupInfo, then
// varint32 length + Frame for each frame. The output is what @coffer/crypto's sealBackup expects.
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { CofferError } from '@coffer/crypto';
import { BackupInfo, Frame } from './gen/Backup.ts';

export interface WriteOptions {
  /** Approximate size of the yielded chunks; frames are batched to avoid tiny writes. */
  chunkSize?: number;
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

/** Streams BackupInfo then every frame, varint-delimited, in chunks of about `chunkSize` bytes. */
export async function* writeBackup(
  info: BackupInfo,
  frames: AsyncIterable<Frame> | Iterable<Frame>,
  opts: WriteOptions = {},
): AsyncGenerator<Uint8Array> {
  const chunkSize = opts.chunkSize ?? 64 * 1024;
  let buf = new Uint8Array(chunkSize);
  let used = 0;
  const add = (msg: Uint8Array): Uint8Array | undefined => {
    let flushed: Uint8Array | undefined;
    if (used > 0 && used + msg.length + 5 > buf.length) {
      flushed = buf.subarray(0, used);
      buf = new Uint8Array(Math.max(chunkSize, msg.length + 5));
      used = 0;
    } else if (used + msg.length + 5 > buf.length) {
      buf = new Uint8Array(msg.length + 5);
    }
    let n = msg.length;
    while (n >= 0x80) {
      buf[used++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[used++] = n;
    buf.set(msg, used);
    used += msg.length;
    return flushed;
  };
  const first = add(encodeOrThrow(() => BackupInfo.encode(info).finish(), null));
  if (first) yield first;
  let index = 0;
  for await (const frame of frames as AsyncIterable<Frame>) {
    const out = add(encodeOrThrow(() => Frame.encode(frame).finish(), index));
    if (out) yield out;
    index++;
  }
  if (used > 0) yield buf.subarray(0, used);
}

function encodeOrThrow(f: () => Uint8Array, frameIndex: number | null): Uint8Array {
  try {
    return f();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const what = frameIndex === null ? 'The BackupInfo' : `Frame ${frameIndex}`;
    throw new CofferError('COFFER_ERR_FRAME_ENCODE', `${what} cannot be encoded: ${reason}.`, {
      cause: err,
      details: { frameIndex, reason },
    });
  }
}
