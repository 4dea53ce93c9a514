// Codec choice by measurement (README "Codec choice"): decode and encode N ChatItem frames
// (~100 bytes each, like INFRA-NOTES) with ts-proto (src/gen) and protobufjs (reflection codegen,
// and optionally a `pbjs -t static-module` file given as PBJS_STATIC=/path/static.js).
// Run: node --import tsx packages/format/bench/codec.ts [N]
import { fileURLToPath } from 'node:url';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import protobuf from 'protobufjs';
import { Frame } from '../src/gen/Backup.ts';

const N = Number(process.argv[2] ?? 1_000_000);
const protoPath = fileURLToPath(new URL('../proto/signal/Backup.proto', import.meta.url));

function sampleFrame(i: number): Frame {
  return {
    item: {
      $case: 'chatItem',
      chatItem: {
        chatId: 3n,
        authorId: 2n,
        dateSent: 1_700_000_000_000n + BigInt(i),
        revisions: [],
        sms: false,
        directionalDetails: {
          $case: 'incoming',
          incoming: {
            dateReceived: 1_700_000_000_500n + BigInt(i),
            dateServerSent: 1_700_000_000_400n,
            read: true,
            sealedSender: true,
          },
        },
        item: {
          $case: 'standardMessage',
          standardMessage: {
            text: { body: `message number ${i} with some ordinary chat text here`, bodyRanges: [] },
            attachments: [],
            linkPreview: [],
            reactions: [],
          },
        },
      },
    },
  } as Frame;
}

function buildStream(): { buf: Uint8Array; ends: Uint32Array } {
  const parts: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < N; i++) {
    const b = Frame.encode(sampleFrame(i)).finish();
    parts.push(b);
    total += b.length;
  }
  const buf = new Uint8Array(total);
  const ends = new Uint32Array(N);
  let o = 0;
  for (let i = 0; i < N; i++) {
    const p = parts[i]!;
    buf.set(p, o);
    o += p.length;
    ends[i] = o;
  }
  return { buf, ends };
}

function time(label: string, f: () => number): void {
  const t0 = performance.now();
  const check = f();
  const ms = performance.now() - t0;
  console.log(
    `${label.padEnd(34)} ${(ms / 1000).toFixed(2)} s  ${Math.round(N / (ms / 1000)).toLocaleString('en')} frames/s  (check ${check})`,
  );
}

const { buf, ends } = buildStream();
console.log(
  `${N} ChatItem frames, ${(buf.length / N).toFixed(1)} bytes each on average, node ${process.version}`,
);

time('ts-proto decode', () => {
  let s = 0;
  let start = 0;
  for (let i = 0; i < N; i++) {
    const f = Frame.decode(buf.subarray(start, ends[i]));
    if (f.item?.$case === 'chatItem') s += f.item.chatItem.dateSent > 0n ? 1 : 0;
    start = ends[i]!;
  }
  return s;
});
time('ts-proto decode (shared reader)', () => {
  let s = 0;
  let start = 0;
  const r = new BinaryReader(buf);
  for (let i = 0; i < N; i++) {
    const f = Frame.decode(r, ends[i]! - start);
    if (f.item?.$case === 'chatItem') s += 1;
    start = ends[i]!;
  }
  return s;
});
const decoded: Frame[] = [];
{
  let start = 0;
  for (let i = 0; i < N; i++) {
    decoded.push(Frame.decode(buf.subarray(start, ends[i])));
    start = ends[i]!;
  }
}
time('ts-proto encode', () => {
  let s = 0;
  for (const f of decoded) s += Frame.encode(f).finish().length;
  return s;
});

time('ts-proto encode (shared writer)', () => {
  let s = 0;
  let w = new BinaryWriter();
  for (let i = 0; i < decoded.length; i++) {
    Frame.encode(decoded[i] as Frame, w.fork()).join();
    if (i % 512 === 511) {
      s += w.finish().length;
      w = new BinaryWriter();
    }
  }
  return s + w.finish().length;
});

const root = protobuf.loadSync(protoPath);
const PFrame = root.lookupType('signal.backup.Frame');
time('protobufjs 8 reflection decode', () => {
  let s = 0;
  let start = 0;
  for (let i = 0; i < N; i++) {
    const f = PFrame.decode(buf.subarray(start, ends[i])) as unknown as { chatItem?: unknown };
    if (f.chatItem) s++;
    start = ends[i]!;
  }
  return s;
});
const pdecoded: protobuf.Message[] = [];
{
  let start = 0;
  for (let i = 0; i < N; i++) {
    pdecoded.push(PFrame.decode(buf.subarray(start, ends[i])));
    start = ends[i]!;
  }
}
time('protobufjs 8 reflection encode', () => {
  let s = 0;
  for (const f of pdecoded) s += PFrame.encode(f).finish().length;
  return s;
});

if (process.env.PBJS_STATIC) {
  const mod = (await import(process.env.PBJS_STATIC)) as {
    signal: { backup: { Frame: { decode(b: Uint8Array): { chatItem?: unknown } } } };
  };
  const SFrame = mod.signal.backup.Frame;
  time('protobufjs static decode', () => {
    let s = 0;
    let start = 0;
    for (let i = 0; i < N; i++) {
      if (SFrame.decode(buf.subarray(start, ends[i])).chatItem) s++;
      start = ends[i]!;
    }
    return s;
  });
}
