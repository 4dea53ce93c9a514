// `coffer status`: backups on/off, last backup, last verified restorable, sizes, next reminder.
import type { Command } from 'commander';
import {
  addDeviceOptions,
  type DeviceOptions,
  mb,
  openDevice,
  output,
  runAction,
} from '../device-profile.ts';

const when = (t: number | undefined) => (t === undefined ? 'never' : new Date(t).toISOString());

export function register(program: Command): void {
  addDeviceOptions(
    program
      .command('status')
      .description('show the backup status of this device')
      .option('--remote', 'also ask the server for the stored sizes'),
  ).action((o: DeviceOptions & { remote?: boolean }) =>
    runAction(o.json, async () => {
      const device = await openDevice(o);
      try {
        const s = await device.client.status();
        const counts = device.store.counts();
        const remote = o.remote && s.enabled && s.registered ? await device.client.serverUsage() : undefined;
        output(o.json, { ...s, counts, ...(remote ? { remote } : {}) }, [
          `Backups: ${s.enabled ? 'on' : 'off'}${s.registered ? ` (server ${s.serverUrl})` : ' (not registered with a server)'}`,
          `History: ${counts.messages} messages in ${counts.chats} chats, ${counts.mediaFiles} media files`,
          `Last backup: ${s.lastBackup ? `${when(s.lastBackup.at)}, ${mb(s.lastBackup.bytes)} (${s.lastBackup.target})` : 'never'}`,
          `Last verified restorable: ${when(s.lastVerified?.at)}`,
          `Recovery key reminder: ${s.enabled ? `${s.reminderDue ? 'due now' : when(s.nextReminderAt)}` : '-'}`,
          ...(remote
            ? [
                `Server: backup ${mb(remote.backupBytes)}, media ${mb(remote.media.usedBytes)} of ${mb(remote.media.quotaBytes)}`,
              ]
            : []),
        ]);
      } finally {
        device.close();
      }
    }),
  );
}
