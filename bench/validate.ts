// Validator benchmark: a synthetic backup of N chat items (default 1,000,000) with an account,
// contacts, groups and chats, validated by Coffer (frame reader + BackupValidator, from 64 KiB
// chunks of the plaintext) and by libsignal's native validator on the same bytes, in one run.
//
//   npm run bench -- validate [N | --quick] [--purpose remote-backup|device-transfer|takeout-export] [--repeat K]
//                             [--save FILE]   (also writes the synthetic plaintext, for profiling)
//
// Two comparisons, both sides doing the same work:
// 1. frames only: libsignal's MessageBackup.OnlineBackupValidator fed the same unencrypted frames
//    (one addFrame call per frame; the varint split is counted in its time) against Coffer's frame
//    reader + validator: frames -> protobuf -> rules.
// 2. the sealed file (issue 8's target): the same plaintext sealed once by Coffer (gzip, AES-CBC,
//    HMAC); libsignal's MessageBackup.validate (MAC, decrypt, gunzip, validate, MAC again) against
//    Coffer's openBackup (MAC pass, decrypt + gunzip + MAC pass) + frame reader + validator.
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  bytesSource,
  closeGzipWorkers,
  deriveMessageBackupKeyFromRecoveryKey,
  openBackup,
  sealBackupToBytes,
} from '@coffer/crypto';
import { BackupValidator, readBackupBatches, type ValidationPurpose, writeBackup } from '@coffer/format';
import { Aci } from '@signalapp/libsignal-client';
import * as MessageBackup from '@signalapp/libsignal-client/dist/MessageBackup.js';
import type { BackupInfo, FilePointer, Frame } from '../packages/format/src/gen/Backup.ts';
import { BytesInputStream } from '../test-support/libsignal-input.ts';
import { report } from './_report.ts';

const args = process.argv.slice(2);
// --quick: the size of `npm run bench -- --quick` (100,000 items), so `npm run bench -- validate --quick` means it.
const N = Number(args.find((a) => /^\d+$/.test(a)) ?? (args.includes('--quick') ? 100_000 : 1_000_000));
const purposeArg = args[args.indexOf('--purpose') + 1];
const purpose: ValidationPurpose =
  args.includes('--purpose') && purposeArg ? (purposeArg as ValidationPurpose) : 'remote-backup';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

// ------------------------------------------------------------------ synthetic backup
let seed = 0x5eed;
const rnd = (): number => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 4294967296;
};
const bytes = (n: number): Uint8Array => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
  return b;
};
const WORDS =
  'ok yes no see you tomorrow at the station lunch later thanks love this photo call me when home'.split(' ');
const text = (): string => {
  const n = 1 + Math.floor(rnd() * rnd() * 30);
  let s = WORDS[Math.floor(rnd() * WORDS.length)] as string;
  for (let i = 1; i < n; i++) s += ` ${WORDS[Math.floor(rnd() * WORDS.length)]}`;
  return s;
};

const BACKUP_TIME = 1_764_000_000_000n;
const CONTACTS = 300;
const GROUPS = 40;
const SELF = 1n;
const info: BackupInfo = {
  version: 1n,
  backupTimeMs: BACKUP_TIME,
  mediaRootBackupKey: bytes(32),
  currentAppVersion: 'coffer-bench',
  firstAppVersion: 'coffer-bench',
  debugInfo: new Uint8Array(0),
};

function header(): Frame[] {
  const out: Frame[] = [
    {
      item: {
        $case: 'account',
        account: {
          profileKey: bytes(32),
          usernameLink: undefined,
          givenName: 'Bench',
          familyName: 'User',
          avatarUrlPath: '',
          donationSubscriberData: undefined,
          backupsSubscriberData: undefined,
          svrPin: '',
          androidSpecificSettings: undefined,
          iosSpecificSettings: undefined,
          bioText: '',
          bioEmoji: '',
          accountSettings: {
            readReceipts: true,
            sealedSenderIndicators: true,
            typingIndicators: true,
            linkPreviews: true,
            notDiscoverableByPhoneNumber: false,
            preferContactAvatars: false,
            universalExpireTimerSeconds: 0,
            preferredReactionEmoji: [],
            displayBadgesOnProfile: true,
            keepMutedChatsArchived: false,
            hasSetMyStoriesPrivacy: false,
            hasViewedOnboardingStory: false,
            storiesDisabled: false,
            hasSeenGroupStoryEducationSheet: false,
            hasCompletedUsernameOnboarding: false,
            phoneNumberSharingMode: 1,
            defaultChatStyle: undefined,
            customChatColors: [],
            optimizeOnDeviceStorage: false,
            defaultSentMediaQuality: 1,
            autoDownloadSettings: undefined,
            appTheme: 1,
            callsUseLessDataSetting: 1,
            allowSealedSenderFromAnyone: false,
            allowAutomaticKeyVerification: false,
            hasSeenAdminDeleteEducationDialog: false,
          },
        },
      },
    },
    { item: { $case: 'recipient', recipient: { id: SELF, destination: { $case: 'self', self: {} } } } },
  ];
  for (let i = 0; i < CONTACTS; i++) {
    out.push({
      item: {
        $case: 'recipient',
        recipient: {
          id: BigInt(2 + i),
          destination: {
            $case: 'contact',
            contact: {
              aci: bytes(16),
              e164: 4915_100_000_000n + BigInt(i),
              blocked: false,
              visibility: 0,
              registration: { $case: 'registered', registered: {} },
              profileKey: bytes(32),
              profileSharing: true,
              profileGivenName: `Contact ${i}`,
              hideStory: false,
              identityState: 0,
              nickname: undefined,
              note: '',
              systemGivenName: '',
              systemFamilyName: '',
              systemNickname: '',
              blockedAtTimestamp: 0n,
            },
          },
        },
      },
    });
  }
  for (let g = 0; g < GROUPS; g++) {
    out.push({
      item: {
        $case: 'recipient',
        recipient: {
          id: BigInt(2 + CONTACTS + g),
          destination: {
            $case: 'group',
            group: {
              masterKey: bytes(32),
              whitelisted: true,
              hideStory: false,
              storySendMode: 0,
              blocked: false,
              blockedAtTimestamp: 0n,
              snapshot: {
                title: { content: { $case: 'title', title: `Group ${g}` } },
                description: undefined,
                avatarUrl: '',
                disappearingMessagesTimer: undefined,
                accessControl: undefined,
                version: 1,
                members: [],
                membersPendingProfileKey: [],
                membersPendingAdminApproval: [],
                inviteLinkPassword: new Uint8Array(0),
                announcementsOnly: false,
                membersBanned: [],
                terminated: false,
              },
            },
          },
        },
      },
    });
  }
  // one chat per contact and per group; chat id = recipient id
  for (let r = 2; r < 2 + CONTACTS + GROUPS; r++) {
    out.push({
      item: {
        $case: 'chat',
        chat: {
          id: BigInt(r),
          recipientId: BigInt(r),
          archived: false,
          markedUnread: false,
          dontNotifyForMentionsIfMuted: false,
          style: undefined,
          expireTimerVersion: 1,
          ...(r < 5 ? { pinnedOrder: r } : {}),
        },
      },
    });
  }
  return out;
}

function attachment(): FilePointer {
  return {
    contentType: 'image/jpeg',
    width: 1024,
    height: 768,
    locatorInfo: {
      key: bytes(64),
      integrityCheck: { $case: 'plaintextHash', plaintextHash: bytes(32) },
      size: 100_000 + Math.floor(rnd() * 1_000_000),
      transitCdnKey: 'abcdefghijklmnopqrstuvwx',
      transitCdnNumber: 3,
      mediaTierCdnNumber: 3,
    },
  } as FilePointer;
}

function* chatItemFrames(): Generator<Frame> {
  let t = 1_600_000_000_000n;
  for (let i = 0; i < N; i++) {
    t += BigInt(1 + Math.floor(rnd() * 60_000));
    const chat = 2 + Math.floor(rnd() * rnd() * (CONTACTS + GROUPS));
    const isGroup = chat >= 2 + CONTACTS;
    const outgoing = rnd() < 0.45;
    const author = outgoing ? SELF : BigInt(isGroup ? 2 + Math.floor(rnd() * CONTACTS) : chat);
    const withAttachment = rnd() < 0.08;
    const withReaction = rnd() < 0.05;
    yield {
      item: {
        $case: 'chatItem',
        chatItem: {
          chatId: BigInt(chat),
          authorId: author,
          dateSent: t,
          revisions: [],
          sms: false,
          directionalDetails: outgoing
            ? {
                $case: 'outgoing',
                outgoing: {
                  dateReceived: t,
                  sendStatus: [
                    {
                      recipientId: BigInt(isGroup ? 2 + Math.floor(rnd() * CONTACTS) : chat),
                      timestamp: t + 900n,
                      deliveryStatus: { $case: 'delivered', delivered: { sealedSender: true } },
                    },
                  ],
                },
              }
            : {
                $case: 'incoming',
                incoming: {
                  dateReceived: t + 700n,
                  dateServerSent: t + 500n,
                  read: true,
                  sealedSender: true,
                },
              },
          item: {
            $case: 'standardMessage',
            standardMessage: {
              text: { body: text(), bodyRanges: [] },
              attachments: withAttachment ? [{ pointer: attachment(), flag: 0, wasDownloaded: true }] : [],
              linkPreview: [],
              reactions: withReaction
                ? [
                    {
                      emoji: '👍',
                      authorId: outgoing ? BigInt(2 + Math.floor(rnd() * CONTACTS)) : SELF,
                      sentTimestamp: t + 5000n,
                      sortOrder: 1n,
                    },
                  ]
                : [],
            },
          },
          pinDetails: undefined,
        },
      },
    } as Frame;
  }
}

function* all(): Generator<Frame> {
  yield* header();
  yield* chatItemFrames();
}

const t0 = performance.now();
const parts: Uint8Array[] = [];
for await (const c of writeBackup(info, all())) parts.push(c);
const file = new Uint8Array(Buffer.concat(parts));
parts.length = 0;
const saveArg = args.includes('--save') ? args[args.indexOf('--save') + 1] : undefined;
if (saveArg) {
  writeFileSync(saveArg, file);
  console.log(`wrote ${saveArg}`);
}
const tGen = (performance.now() - t0) / 1000;
const frameCount = N + header().length;
console.log(
  `synthetic backup: ${N.toLocaleString('en')} chat items, ${frameCount.toLocaleString('en')} frames, ` +
    `${(file.length / 1e6).toFixed(1)} MB plaintext (made in ${tGen.toFixed(1)} s); purpose ${purpose}; node ${process.version}`,
);

// ------------------------------------------------------------------ Coffer
const chunks: Uint8Array[] = [];
for (let o = 0; o < file.length; o += 65536) chunks.push(file.subarray(o, o + 65536));
let peakHeap = 0;
let peakRss = 0;
let baseHeap = 0;
const sample = () => {
  const m = process.memoryUsage();
  if (m.heapUsed - baseHeap > peakHeap) peakHeap = m.heapUsed - baseHeap;
  if (m.rss > peakRss) peakRss = m.rss;
};
const cpuSeconds = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1e6;
async function runCoffer(input: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = chunks): Promise<{
  t: number;
  cpu: number;
  chatItems: number;
  summary: ReturnType<BackupValidator['finish']>;
}> {
  gc();
  baseHeap = process.memoryUsage().heapUsed;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const validator = new BackupValidator({ purpose });
  let batches = 0;
  for await (const batch of readBackupBatches(input)) {
    for (const it of batch) {
      if (it.kind === 'frame') validator.addFrame(it.frame, it);
      else validator.addInfo(it.info);
    }
    if ((++batches & 63) === 0) sample();
  }
  const summary = validator.finish();
  sample();
  const t = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(process.cpuUsage(c0));
  if (summary.chatItems !== N)
    throw new Error(`Coffer counted ${summary.chatItems} chat items, expected ${N}`);
  return { t, cpu, chatItems: summary.chatItems, summary };
}

// ------------------------------------------------------------------ libsignal
function split(b: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer>[] {
  const out: Uint8Array<ArrayBuffer>[] = [];
  let p = 0;
  while (p < b.length) {
    let len = 0;
    let shift = 0;
    for (;;) {
      const x = b[p++] as number;
      len += (x & 0x7f) * 2 ** shift;
      shift += 7;
      if (x < 0x80) break;
    }
    out.push(b.subarray(p, p + len));
    p += len;
  }
  return out;
}
const LIB_PURPOSE = {
  'remote-backup': MessageBackup.Purpose.RemoteBackup,
  'device-transfer': MessageBackup.Purpose.DeviceTransfer,
  'takeout-export': MessageBackup.Purpose.TakeoutExport,
} as const;
function runLibsignal(): { t: number; cpu: number } {
  gc();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const msgs = split(file);
  const lib = new MessageBackup.OnlineBackupValidator(
    msgs[0] as Uint8Array<ArrayBuffer>,
    LIB_PURPOSE[purpose],
  );
  for (let i = 1; i < msgs.length; i++) lib.addFrame(msgs[i] as Uint8Array<ArrayBuffer>);
  lib.finalize();
  return { t: (performance.now() - t0) / 1000, cpu: cpuSeconds(process.cpuUsage(c0)) };
}

// The sealed file: one AccountEntropyPool and ACI give both sides the same MessageBackupKey.
const AEP = 'mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm';
const ACI = '11111111-1111-4111-8111-111111111111';
const sealKey = deriveMessageBackupKeyFromRecoveryKey(AEP, ACI);
const sealed = await sealBackupToBytes(chunks, sealKey);
closeGzipWorkers();
const libKey = new MessageBackup.MessageBackupKey({ accountEntropy: AEP, aci: Aci.fromUuid(ACI) });
async function runLibsignalSealed(): Promise<{ t: number; cpu: number }> {
  gc();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const outcome = await MessageBackup.validate(
    libKey,
    LIB_PURPOSE[purpose],
    () => new BytesInputStream(sealed),
    BigInt(sealed.length),
  );
  if (outcome.errorMessage) throw new Error(`libsignal refused the sealed file: ${outcome.errorMessage}`);
  return { t: (performance.now() - t0) / 1000, cpu: cpuSeconds(process.cpuUsage(c0)) };
}
const runCofferSealed = () => runCoffer(openBackup(bytesSource(sealed), sealKey));

// The machine is shared: run both REPEAT times, alternating, and compare the best of each.
const repeatArg = args[args.indexOf('--repeat') + 1];
const REPEAT = args.includes('--repeat') && repeatArg ? Number(repeatArg) : 3;
const cofferTimes: number[] = [];
const libTimes: number[] = [];
const cofferCpu: number[] = [];
const libCpu: number[] = [];
let summary: ReturnType<BackupValidator['finish']> | undefined;
for (let r = 0; r < REPEAT; r++) {
  // Alternate which side goes first, so neither always runs right after the other's garbage.
  let c: Awaited<ReturnType<typeof runCoffer>>;
  let l: { t: number; cpu: number };
  if (r % 2 === 0) {
    c = await runCoffer();
    l = runLibsignal();
  } else {
    l = runLibsignal();
    c = await runCoffer();
  }
  summary = c.summary;
  cofferTimes.push(c.t);
  cofferCpu.push(c.cpu);
  libTimes.push(l.t);
  libCpu.push(l.cpu);
  console.log(
    `  run ${r + 1}: Coffer ${c.t.toFixed(2)} s (cpu ${c.cpu.toFixed(2)} s), libsignal ${l.t.toFixed(2)} s (cpu ${l.cpu.toFixed(2)} s)`,
  );
}
const tCoffer = Math.min(...cofferTimes);
const tLib = Math.min(...libTimes);

const sealedCoffer: number[] = [];
const sealedLib: number[] = [];
for (let r = 0; r < REPEAT; r++) {
  const c = r % 2 === 0 ? await runCofferSealed() : undefined;
  const l = await runLibsignalSealed();
  const c2 = c ?? (await runCofferSealed());
  sealedCoffer.push(c2.t);
  sealedLib.push(l.t);
  console.log(
    `  sealed run ${r + 1}: Coffer open+validate ${c2.t.toFixed(2)} s, libsignal MessageBackup.validate ${l.t.toFixed(2)} s`,
  );
}
const tSealedCoffer = Math.min(...sealedCoffer);
const tSealedLib = Math.min(...sealedLib);

// ------------------------------------------------------------------ report
const fps = (t: number) => `${Math.round(frameCount / t).toLocaleString('en')} frames/s`;
const mb = (n: number) => `${(n / 1048576).toFixed(0)} MiB`;
console.log(`best of ${REPEAT}:`);
console.log(`Coffer  readBackupBatches + BackupValidator   ${tCoffer.toFixed(2)} s   ${fps(tCoffer)}`);
console.log(`libsignal OnlineBackupValidator (native)      ${tLib.toFixed(2)} s   ${fps(tLib)}`);
console.log(
  `ratio (libsignal time / Coffer time): ${(tLib / tCoffer).toFixed(2)}x ${tLib > tCoffer ? '(Coffer faster)' : '(Coffer slower)'}`,
);
console.log(
  `sealed file (${(sealed.length / 1e6).toFixed(1)} MB): Coffer openBackup + validator ${tSealedCoffer.toFixed(2)} s, ` +
    `libsignal MessageBackup.validate ${tSealedLib.toFixed(2)} s, ratio ${(tSealedLib / tSealedCoffer).toFixed(2)}x`,
);
console.log(
  `Coffer peak memory while validating: heap used at most +${mb(peakHeap)} above the heap before each run ` +
    `(rss peak ${mb(peakRss)}; the ${mb(file.length)} input file is held in memory by the benchmark itself)`,
);
console.log(
  `summary: ${summary?.recipients} recipients, ${summary?.chats} chats, ${summary?.chatItems.toLocaleString('en')} chat items, ${summary?.attachments.toLocaleString('en')} attachments`,
);

const tCpuCoffer = Math.min(...cofferCpu);
const tCpuLib = Math.min(...libCpu);
const itemsLabel = `${N >= 1e6 ? `${N / 1e6}M` : `${N / 1e3}k`} items`;
report('validate', [
  {
    what: `open+validate ${itemsLabel}, sealed file, vs libsignal MessageBackup.validate (wall, best of ${REPEAT})`,
    coffer: fps(tSealedCoffer),
    reference: fps(tSealedLib),
    ratio: `${(tSealedLib / tSealedCoffer).toFixed(2)}x`,
    target: '>= 1.0x',
    met: tSealedLib / tSealedCoffer >= 1 ? 'yes' : 'NO',
  },
  {
    what: `read+validate ${itemsLabel} vs libsignal validator (wall, best of ${REPEAT})`,
    coffer: fps(tCoffer),
    reference: fps(tLib),
    ratio: `${(tLib / tCoffer).toFixed(2)}x`,
    target: '>= 1.0x',
    met: tLib / tCoffer >= 1 ? 'yes' : 'NO',
  },
  {
    what: `read+validate ${itemsLabel} vs libsignal validator (CPU time)`,
    coffer: `${tCpuCoffer.toFixed(2)} s cpu`,
    reference: `${tCpuLib.toFixed(2)} s cpu`,
    ratio: `${(tCpuLib / tCpuCoffer).toFixed(2)}x`,
    target: '(info)',
    met: '',
    note: 'CPU time of the process over the run (Coffer: main thread plus GC helper threads); less sensitive to a loaded machine than wall time',
  },
]);
