// `coffer backup`: backs the device's chat history up to the server (tus upload, media tier), or
// with `--to FILE` to a local sealed file (same format, no server).
import { generateIntoStore } from '@coffer/chatstore';
import { writeFileAtomically } from '@coffer/client/node';
import type { Command } from 'commander';
import {
  addDeviceOptions,
  addRegistrationOptions,
  type DeviceOptions,
  ensureRegistered,
  mb,
  openDevice,
  output,
  progressReporter,
  type RegistrationOptions,
  runAction,
} from '../device-profile.ts';

interface BackupOptions extends DeviceOptions, RegistrationOptions {
  to?: string;
  enable?: boolean;
  generate?: string;
  seed?: string;
}

export function register(program: Command): void {
  addDeviceOptions(
    addRegistrationOptions(
      program
        .command('backup')
        .description('back up this device now (to the server, or --to FILE for a local sealed backup)')
        .option(
          '--to <file>',
          'write a local sealed backup file instead of uploading (messages only: media are not in the file)',
        )
        .option('--enable', 'turn backups on first if they are off (prints the new recovery key once)'),
      'verify this e-mail/phone with the server first (registers the device)',
    )
      .option(
        '--generate <chats:messages:media>',
        'fill an empty profile with a generated sample history first',
      )
      .option('--seed <seed>', 'seed for --generate', 'coffer'),
  ).action((o: BackupOptions) =>
    runAction(o.json, async () => {
      const device = await openDevice(o);
      try {
        if (o.generate) {
          const [chats, messages, media] = o.generate.split(':').map(Number);
          if (device.store.counts().messages === 0) {
            await generateIntoStore(device.store, {
              chats: chats ?? 20,
              messages: messages ?? 1000,
              media: media ?? 10,
              seed: o.seed ?? 'coffer',
            });
          }
        }
        if (!o.to) await ensureRegistered(device, o);
        let shownKey: string | undefined;
        const status = await device.client.status();
        if (!status.enabled) {
          if (!o.enable) {
            throw Object.assign(
              new Error('Backups are off for this profile; run with --enable to turn them on.'),
              {
                code: 'COFFER_ERR_NOT_ENABLED',
              },
            );
          }
          const { displayKey } = await device.client.enableBackups();
          shownKey = displayKey;
          if (!o.json) {
            process.stderr.write(
              `Backups are on. Your recovery key (write it down; it is shown only now):\n\n  ${displayKey}\n\n`,
            );
          }
        }
        const progress = progressReporter(o.json);
        const t0 = performance.now();
        if (o.to) {
          const bytes = await writeFileAtomically(
            o.to,
            await device.client.sealedBackup({ onProgress: progress.onProgress }),
          );
          progress.done();
          const ms = Math.round(performance.now() - t0);
          await device.client.recordLocalBackup(bytes, ms);
          const aci = (await device.client.status()).aci;
          output(
            o.json,
            {
              target: 'file',
              file: o.to,
              bytes,
              durationMs: ms,
              aci,
              ...(shownKey ? { recoveryKey: shownKey } : {}),
            },
            [
              `Backed up to ${o.to}: ${mb(bytes)} in ${(ms / 1000).toFixed(1)} s`,
              `Account id (needed to restore): ${aci}`,
            ],
          );
          return;
        }
        const r = await device.client.backupNow({ onProgress: progress.onProgress });
        progress.done();
        output(o.json, { target: 'server', ...r, ...(shownKey ? { recoveryKey: shownKey } : {}) }, [
          `Backed up: ${mb(r.bytes)} in ${(r.durationMs / 1000).toFixed(1)} s`,
          `Media: ${r.media.uploaded} uploaded (${mb(r.media.bytesUploaded)}), ${r.media.alreadyStored} already stored` +
            (r.media.missingLocally ? `, ${r.media.missingLocally} not on this device` : ''),
        ]);
      } finally {
        device.close();
      }
    }),
  );
}
