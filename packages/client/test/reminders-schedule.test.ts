import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteChatStore } from '@coffer/chatstore';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CofferClient,
  DAY_MS,
  MemoryKeyStore,
  nextRunAt,
  parseTimeOfDay,
  type Timers,
} from '../src/index.ts';

const dirs: string[] = [];
const stores: SqliteChatStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function localClient(clock: { t: number }, timers?: Timers) {
  const dir = mkdtempSync(join(tmpdir(), 'coffer-rem-'));
  dirs.push(dir);
  const store = await SqliteChatStore.open(dir);
  stores.push(store);
  const keyStore = new MemoryKeyStore();
  return {
    keyStore,
    client: new CofferClient({ store, keyStore, now: () => clock.t, ...(timers ? { timers } : {}) }),
  };
}

describe('recovery-key reminders (spec 8)', () => {
  it('first after 14 days, then every 183 days; one 7-day snooze per reminder; clock injected', async () => {
    const clock = { t: Date.UTC(2026, 0, 1) };
    const { client } = await localClient(clock);
    expect((await client.status()).nextReminderAt).toBeUndefined();
    const { displayKey } = await client.enableBackups();
    const start = clock.t;
    // The confirmation while setting up does not count as answering a reminder.
    expect(await client.confirmRecoveryKey(displayKey.toLowerCase().replaceAll(' ', '-'))).toBe(true);
    expect((await client.status()).nextReminderAt).toBe(start + 14 * DAY_MS);
    clock.t = start + 14 * DAY_MS - 1;
    expect((await client.status()).reminderDue).toBe(false);
    clock.t = start + 14 * DAY_MS;
    expect((await client.status()).reminderDue).toBe(true);

    // Snooze once: 7 more days; a second snooze does not extend it.
    expect(await client.snoozeReminder()).toBe(clock.t + 7 * DAY_MS);
    const snoozedUntil = clock.t + 7 * DAY_MS;
    clock.t += DAY_MS;
    expect(await client.snoozeReminder()).toBe(snoozedUntil);
    expect((await client.status()).reminderDue).toBe(false);
    clock.t = snoozedUntil;
    expect((await client.status()).reminderDue).toBe(true);

    // A wrong answer changes nothing; the right one moves the next reminder ~6 months out.
    expect(await client.confirmRecoveryKey('not the key')).toBe(false);
    expect((await client.status()).reminderDue).toBe(true);
    expect(await client.confirmRecoveryKey(displayKey)).toBe(true);
    expect((await client.status()).nextReminderAt).toBe(clock.t + 183 * DAY_MS);
    expect((await client.status()).reminderDue).toBe(false);
  });

  it('disableBackups wipes the keys from the key store and stops reminders', async () => {
    const clock = { t: Date.UTC(2026, 0, 1) };
    const { client, keyStore } = await localClient(clock);
    await client.enableBackups();
    expect(keyStore.names()).toContain('backup-keys');
    await client.disableBackups();
    expect(keyStore.names()).not.toContain('backup-keys');
    const s = await client.status();
    expect(s.enabled).toBe(false);
    expect(s.nextReminderAt).toBeUndefined();
    await expect(client.confirmRecoveryKey('x')).rejects.toMatchObject({ code: 'COFFER_ERR_NOT_ENABLED' });
  });
});

describe('daily schedule', () => {
  it('computes the next run at the configured local time', () => {
    const now = Date.UTC(2026, 2, 10, 12, 0);
    expect(nextRunAt(now, { timeOfDay: '03:00', tzOffsetMinutes: 0 })).toBe(Date.UTC(2026, 2, 11, 3, 0));
    expect(nextRunAt(now, { timeOfDay: '13:30', tzOffsetMinutes: 0 })).toBe(Date.UTC(2026, 2, 10, 13, 30));
    // 03:00 at UTC+2 is 01:00 UTC.
    expect(nextRunAt(now, { timeOfDay: '03:00', tzOffsetMinutes: 120 })).toBe(Date.UTC(2026, 2, 11, 1, 0));
    expect(() => parseTimeOfDay('25:00')).toThrow(RangeError);
  });

  it('skips when backups are off, and arms a timer for the next run that re-arms after each run', async () => {
    const clock = { t: Date.UTC(2026, 2, 10, 12, 0) };
    const armed: Array<{ fn: () => void; ms: number }> = [];
    const timers: Timers = {
      setTimeout: (fn, ms) => {
        armed.push({ fn, ms });
        return armed.length;
      },
      clearTimeout: () => {},
    };
    const { client } = await localClient(clock, timers);
    expect(await client.runScheduledBackup()).toEqual({ ran: false, reason: 'disabled' });
    const at = await client.startSchedule({ timeOfDay: '03:00', tzOffsetMinutes: 0 });
    expect(at).toBe(Date.UTC(2026, 2, 11, 3, 0));
    expect(armed[0]!.ms).toBe(15 * 3_600_000);
    expect((await client.status()).schedule?.nextRunAt).toBe(at);
    const results: unknown[] = [];
    await client.startSchedule({ timeOfDay: '03:00', tzOffsetMinutes: 0, onResult: (r) => results.push(r) });
    clock.t = at;
    armed.at(-1)!.fn();
    await new Promise((r) => setTimeout(r, 50));
    expect(results).toEqual([{ ran: false, reason: 'disabled' }]);
    expect(armed.at(-1)!.ms).toBe(DAY_MS);
    client.stopSchedule();
  });
});
