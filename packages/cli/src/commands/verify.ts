// `coffer verify`: a restore drill. Downloads the latest backup (or reads --from FILE) and checks
// it completely (MAC, decryption, gzip, frames, validation) without importing anything.
import { sealedFileSource } from '@coffer/crypto';
import type { Command } from 'commander';
import {
  addDeviceOptions,
  type DeviceOptions,
  mb,
  openDevice,
  output,
  progressReporter,
  runAction,
} from '../device-profile.ts';

interface VerifyOptions extends DeviceOptions {
  from?: string;
  key?: string;
  aci?: string;
}

export function register(program: Command): void {
  addDeviceOptions(
    program
      .command('verify')
      .description('check that the latest backup (or --from FILE) opens and is valid, without restoring')
      .option('--from <file>', 'check a local sealed backup file')
      .option('--key <recoveryKey>', "recovery key for --from (default: this profile's key)")
      .option('--aci <uuid>', "account id for --from (default: this profile's)"),
  ).action((o: VerifyOptions) =>
    runAction(o.json, async () => {
      const device = await openDevice(o);
      try {
        const progress = progressReporter(o.json);
        if (o.from) {
          const opened = await device.client.verifySource(await sealedFileSource(o.from), {
            ...(o.key ? { recoveryKey: o.key } : {}),
            ...(o.aci ? { aci: o.aci } : {}),
          });
          output(
            o.json,
            {
              ok: true,
              source: 'file',
              backupAt: Number(opened.info.backupTimeMs),
              frames: opened.summary.frames,
            },
            [`OK: ${o.from} opens with this key and is valid (${opened.summary.chatItems} messages)`],
          );
          return;
        }
        const r = await device.client.verifyLatestBackup({ onProgress: progress.onProgress });
        progress.done();
        output(o.json, { ok: true, source: 'server', ...r }, [
          `OK: the backup from ${new Date(r.backupAt).toISOString()} (${mb(r.bytes)}, ${r.chatItems} messages) is restorable`,
        ]);
      } finally {
        device.close();
      }
    }),
  );
}
