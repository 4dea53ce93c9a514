// `coffer restore`: restores the latest server backup after identity verification, or a local
// sealed file with --from. The import is atomic: a failed restore leaves the profile as it was.
import { sealedFileSource } from '@coffer/crypto';
import type { Command } from 'commander';
import {
  addDeviceOptions,
  addRegistrationOptions,
  askSecret,
  type DeviceOptions,
  ensureRegistered,
  mb,
  openDevice,
  output,
  progressReporter,
  type RegistrationOptions,
  runAction,
} from '../device-profile.ts';

interface RestoreOptions extends DeviceOptions, RegistrationOptions {
  from?: string;
  aci?: string;
  key?: string;
  noMedia?: boolean;
  media?: boolean;
}

export function register(program: Command): void {
  addDeviceOptions(
    addRegistrationOptions(
      program
        .command('restore')
        .description('restore chats from the server backup (or --from FILE) with the recovery key')
        .option('--from <file>', 'restore a local sealed backup file instead (no server)')
        .option('--aci <uuid>', 'account id the local backup was made for (printed by backup --to)')
        .option('--key <recoveryKey>', 'the recovery key (env COFFER_RECOVERY_KEY; otherwise prompted)'),
      'verify this e-mail/phone with the server first (same account as before)',
    ).option('--no-media', 'do not wait for media (restore messages only)'),
  ).action((o: RestoreOptions) =>
    runAction(o.json, async () => {
      const device = await openDevice(o);
      try {
        const key = await askSecret(o.key, 'COFFER_RECOVERY_KEY', 'Recovery key: ');
        if (!key) {
          throw Object.assign(new Error('The recovery key is needed (--key or COFFER_RECOVERY_KEY).'), {
            code: 'COFFER_ERR_RECOVERY_KEY_LENGTH',
          });
        }
        const progress = progressReporter(o.json);
        const t0 = performance.now();
        if (o.from) {
          await device.client.restoreFromSource(await sealedFileSource(o.from), {
            recoveryKey: key,
            ...(o.aci ? { aci: o.aci } : {}),
            onProgress: progress.onProgress,
          });
          progress.done();
          const counts = device.store.counts();
          output(o.json, { source: 'file', durationMs: Math.round(performance.now() - t0), counts }, [
            `Restored ${counts.messages} messages in ${counts.chats} chats from ${o.from}`,
          ]);
          return;
        }
        await ensureRegistered(device, o);
        const r = await device.client.restore({ recoveryKey: key, onProgress: progress.onProgress });
        const messagesMs = Math.round(performance.now() - t0);
        const media = o.media === false ? undefined : await r.media;
        progress.done();
        const counts = device.store.counts();
        output(
          o.json,
          { source: 'server', backupAt: r.backupAt, bytes: r.bytes, messagesMs, counts, media },
          [
            `Restored ${counts.messages} messages in ${counts.chats} chats (${mb(r.bytes)}) in ${(messagesMs / 1000).toFixed(1)} s`,
            media
              ? `Media: ${media.files} files and ${media.thumbnails} thumbnails restored, ${media.failed} failed, ${media.notOnServer} not in the backup`
              : 'Media: restoring in the background was skipped (--no-media)',
          ],
        );
      } finally {
        device.close();
      }
    }),
  );
}
