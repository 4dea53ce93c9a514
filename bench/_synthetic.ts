// Synthetic chat history for benchmarks: varint-delimited BackupInfo + Frames shaped like a real
// export (recipients, chats, then many ChatItem frames with text messages of Zipf-like words,
// increasing timestamps, incoming/outgoing details). Deterministic for a given seed.

const WORDS = (
  'the to and a i you it of in is that for on me my be have at we this not with so but just are do ' +
  'what was can if your all will get no like know up out about they now one go how time see ok yes ' +
  'good think when there then too lol haha tomorrow tonight later home work call back today love sure ' +
  'really thanks thank please sorry maybe right need want going gonna meeting dinner lunch coffee ' +
  'train bus late early weekend monday friday picture photo video send sent message phone kids dog ' +
  'birthday party happy great awesome nice cool fine where here from there again still already ' +
  'could would should did does had has been were who which some any more most very much many ' +
  'https://example.org/article/2026/11/25 👍 😂 ❤️ 🎉 🙏 ok! ?? ... hmm yeah yep nope'
).split(' ');

function varint(out: number[], v: number): void {
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}
function field(out: number[], num: number, wire: number): void {
  varint(out, num * 8 + wire);
}
function bytesField(out: number[], num: number, b: ArrayLike<number>): void {
  field(out, num, 2);
  varint(out, b.length);
  for (let i = 0; i < b.length; i++) out.push(b[i] as number);
}
function uintField(out: number[], num: number, v: number): void {
  field(out, num, 0);
  varint(out, v);
}

const te = new TextEncoder();

/** Yields chunks of about `chunkSize` bytes until `totalBytes` have been produced. */
export function* syntheticHistory(totalBytes: number, seed = 42, chunkSize = 1 << 20): Generator<Uint8Array> {
  let x = seed >>> 0;
  const rnd = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
  const zipf = () => WORDS[Math.min(WORDS.length - 1, Math.floor(WORDS.length * rnd() ** 2.2))] as string;
  let produced = 0;
  let buf: number[] = [];
  const frame = (body: number[]) => {
    varint(buf, body.length);
    for (const b of body) buf.push(b);
  };
  // BackupInfo { version=1, backupTimeMs, mediaRootBackupKey(32) }
  const info: number[] = [];
  uintField(info, 1, 1);
  uintField(info, 2, 1_764_000_000_000);
  bytesField(info, 3, new Uint8Array(32).fill(0xab));
  frame(info);
  let time = 1_600_000_000_000;
  const chats = 200;
  for (;;) {
    const chatId = 1 + Math.floor(rnd() ** 1.5 * chats);
    const words = 1 + Math.floor(rnd() ** 2 * 40);
    let text = zipf();
    for (let i = 1; i < words; i++) text += ` ${zipf()}`;
    time += Math.floor(rnd() * 600_000);
    const outgoing = rnd() < 0.45;
    // ChatItem
    const item: number[] = [];
    uintField(item, 1, chatId);
    uintField(item, 2, outgoing ? 1 : chatId + 1);
    uintField(item, 3, time);
    const dir: number[] = [];
    if (outgoing) {
      // OutgoingMessageDetails { sendStatus { recipientId, timestamp, delivered{} } }
      const st: number[] = [];
      uintField(st, 1, chatId + 1);
      uintField(st, 2, time + 900);
      bytesField(st, 6, []);
      bytesField(dir, 1, st);
      bytesField(item, 9, dir);
    } else {
      uintField(dir, 1, time + 1200);
      uintField(dir, 2, time + 800);
      uintField(dir, 3, 1);
      bytesField(item, 8, dir);
    }
    const textMsg: number[] = [];
    bytesField(textMsg, 1, te.encode(text));
    const std: number[] = [];
    bytesField(std, 1, textMsg);
    bytesField(item, 11, std);
    const f: number[] = [];
    bytesField(f, 4, item);
    frame(f);
    if (buf.length >= chunkSize || produced + buf.length >= totalBytes) {
      const n = Math.min(buf.length, totalBytes - produced);
      yield Uint8Array.from(buf.slice(0, n));
      produced += n;
      buf = [];
      if (produced >= totalBytes) return;
    }
  }
}
