// `coffer demo`: the whole story in one terminal. Starts an embedded server, makes a device with a
// generated history, turns backups on (shows the recovery key), backs up with progress, "loses" the
// device, verifies identity on a new one, shows a wrong key being refused, restores with the right
// key and proves the history is equal (counts and digest), with timings.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIntoStore, SqliteChatStore } from '@coffer/chatstore';
import { CofferClient } from '@coffer/client';
import { FileKeyStore, nodePlatform } from '@coffer/client/node';
import type { Command } from 'commander';
import { mb, output, progressReporter, runAction } from '../device-profile.ts';

interface DemoOptions {
  chats: string;
  messages: string;
  media: string;
  mediaSize: string;
  port: string;
  seed: string;
  json?: boolean;
  keep?: boolean;
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('run the whole backup-and-restore story against an embedded server, with timings')
    .option('--chats <n>', 'chats in the generated history', '20')
    .option('--messages <n>', 'messages in the generated history', '50000')
    .option('--media <n>', 'media files in the generated history', '200')
    .option('--media-size <bytes>', 'average media file size', '65536')
    .option('--port <port>', 'port of the embedded server (0: any free port)', '0')
    .option('--seed <seed>', 'seed of the generated history', 'coffer-demo')
    .option('--keep', 'keep the temporary folders (prints where they are)')
    .option('--json', 'print the results as one JSON object')
    .action((o: DemoOptions) => runAction(o.json, () => demo(o)));
}

async function demo(o: DemoOptions): Promise<void> {
  const say = (s: string) => {
    if (!o.json) process.stderr.write(`${s}\n`);
  };
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      timings[name] = Math.round(performance.now() - t0);
    }
  };
  const root = mkdtempSync(join(tmpdir(), 'coffer-demo-'));
  // Loaded here, not at start-up: the other commands never parse the server (bench/README.md).
  const { createCofferServer, DevSender, loadConfig } = await import('@coffer/server');
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: join(root, 'server'),
      host: '127.0.0.1',
      port: Number(o.port),
      verification: { devOutbox: true },
      credentials: { keyBits: 2048 },
      // One user on loopback makes thousands of requests a minute (one per media object step).
      limits: { requestsPerMinutePerAddress: 1_000_000 },
    } as never,
  });
  const server = await createCofferServer(config, { logger: false, sender: new DevSender(false) });
  const stores: SqliteChatStore[] = [];
  try {
    const address = await server.listen();
    const url = address.replace('[::1]', '127.0.0.1');
    say(`1. Embedded Coffer server at ${url}`);

    const makeDevice = async (name: string) => {
      const store = await SqliteChatStore.open(join(root, name, 'chats'));
      stores.push(store);
      const client = new CofferClient({
        store,
        keyStore: new FileKeyStore(join(root, name, 'keys')),
        serverUrl: url,
        platform: nodePlatform(),
      });
      return { store, client };
    };

    const identifier = 'alex@example.org';
    const a = await makeDevice('phone-a');
    const gen = await timed('generate', () =>
      generateIntoStore(a.store, {
        chats: Number(o.chats),
        messages: Number(o.messages),
        media: Number(o.media),
        mediaSize: Number(o.mediaSize),
        seed: o.seed,
      }),
    );
    say(
      `2. Phone A: generated ${gen.messages} messages in ${gen.chats} chats with ${gen.mediaFiles} media files ` +
        `(${mb(gen.mediaBytes)}) in ${timings.generate} ms`,
    );
    await timed('register', () => a.client.registerWithDevOutbox(identifier));
    say(`3. Phone A verified ${identifier} with a code (development outbox) and registered`);
    const { displayKey } = await a.client.enableBackups();
    await a.client.confirmRecoveryKey(displayKey);
    say(`4. Backups turned on. Recovery key, made on the phone and never sent:\n\n     ${displayKey}\n`);

    const progress = progressReporter(o.json);
    const backup = await timed('backup', () => a.client.backupNow({ onProgress: progress.onProgress }));
    progress.done();
    say(
      `5. Backed up: messages ${mb(backup.bytes)} sealed, media ${backup.media.uploaded} objects ` +
        `(${mb(backup.media.bytesUploaded)}) in ${timings.backup} ms`,
    );
    const originalCounts = a.store.counts();
    const originalDigest = await timed('digest', () => a.store.digest({ media: true }));
    a.store.close();
    rmSync(join(root, 'phone-a'), { recursive: true, force: true });
    say('6. Phone A is lost (its profile folder was deleted).');

    const b = await makeDevice('phone-b');
    const reg = await b.client.registerWithDevOutbox(identifier);
    say(
      `7. Phone B verified ${identifier}: same account, ${reg.reregistered ? 'moved to the new phone' : 'new'}`,
    );

    const wrong = `${displayKey.slice(0, -1)}${displayKey.endsWith('A') ? 'B' : 'A'}`;
    let refused = '';
    try {
      await b.client.restore({ recoveryKey: wrong });
    } catch (err) {
      refused = (err as { code?: string }).code ?? String(err);
    }
    if (!refused) throw new Error('demo: a wrong key was accepted');
    say(`8. A mistyped key is refused: ${refused} (phone B still has ${b.store.counts().messages} messages)`);

    const restored = await timed('restoreMessages', () =>
      b.client.restore({ recoveryKey: displayKey, onProgress: progress.onProgress }),
    );
    progress.done();
    say(
      `9. Restored ${restored.chatItems} messages in ${timings.restoreMessages} ms; media continue in the background...`,
    );
    const media = await timed('restoreMedia', () => restored.media);
    say(
      `   media: ${media.files} files and ${media.thumbnails} thumbnails (${mb(media.bytes)}) in ${timings.restoreMedia} ms`,
    );

    const restoredCounts = b.store.counts();
    const restoredDigest = await b.store.digest({ media: true });
    const equal =
      restoredDigest === originalDigest && JSON.stringify(restoredCounts) === JSON.stringify(originalCounts);
    say(
      `10. ${equal ? 'EQUAL' : 'DIFFERENT'}: ${restoredCounts.messages} messages, ${restoredCounts.chats} chats, ` +
        `${restoredCounts.mediaFiles} media files; digest ${restoredDigest.slice(0, 16)}... ` +
        `(original ${originalDigest.slice(0, 16)}...)`,
    );
    output(
      o.json,
      {
        equal,
        originalCounts,
        restoredCounts,
        digest: restoredDigest,
        refusedWrongKeyWith: refused,
        timings,
      },
      [
        `Timings (ms): ${Object.entries(timings)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      ],
    );
    if (!equal) process.exitCode = 1;
  } finally {
    for (const s of stores) s.close();
    await server.close();
    if (o.keep) say(`(kept ${root})`);
    else rmSync(root, { recursive: true, force: true });
  }
}
