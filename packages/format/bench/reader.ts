// Frame reader throughput: N ChatItem frames (~94 bytes) written by writeBackup, read back by
// readBackupBatches from 64 KiB chunks (the size gunzip hands out).
// Run: node --import tsx packages/format/bench/reader.ts [N]
import { readBackupBatches, readBackupItems } from '../src/frame-reader.ts';
import { writeBackup } from '../src/frame-writer.ts';
import type { BackupInfo, Frame } from '../src/gen/Backup.ts';

const N = Number(process.argv[2] ?? 1_000_000);
const info: BackupInfo = {
  version: 1n,
  backupTimeMs: 1_700_000_000_000n,
  mediaRootBackupKey: new Uint8Array(32),
  currentAppVersion: 'bench',
  firstAppVersion: 'bench',
  debugInfo: new Uint8Array(0),
};

function* frames(): Generator<Frame> {
  for (let i = 0; i < N; i++) {
    yield {
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
              dateReceived: 1_700_000_000_500n,
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
}

let t0 = performance.now();
const parts: Uint8Array[] = [];
for await (const c of writeBackup(info, frames())) parts.push(c);
const all = new Uint8Array(Buffer.concat(parts));
const tWrite = performance.now() - t0;
const chunks: Uint8Array[] = [];
for (let o = 0; o < all.length; o += 65536) chunks.push(all.subarray(o, o + 65536));
console.log(`${N} ChatItem frames, ${(all.length / 1e6).toFixed(1)} MB plaintext, node ${process.version}`);
console.log(
  `writeBackup (encode)         ${(tWrite / 1000).toFixed(2)} s  ${Math.round(N / (tWrite / 1000)).toLocaleString('en')} frames/s`,
);

const rate = (ms: number) =>
  `${(ms / 1000).toFixed(2)} s  ${Math.round(N / (ms / 1000)).toLocaleString('en')} frames/s`;
t0 = performance.now();
let n = 0;
for await (const batch of readBackupBatches(chunks)) n += batch.length;
console.log(`readBackupBatches (decode)    ${rate(performance.now() - t0)}  (${n} messages)`);
t0 = performance.now();
n = 0;
for await (const _item of readBackupItems(chunks)) n++;
console.log(`readBackupItems (decode)      ${rate(performance.now() - t0)}  (${n} messages)`);
console.log(`heap used ${(process.memoryUsage().heapUsed / 1e6).toFixed(0)} MB (input held in memory)`);
