/**
 * Recovery-key reminders (spec 8, Android `VerifyBackupKeyReminderSchedule`): the first one 14 days
 * after backups were turned on (or the key was last checked), then about every 6 months (183 days).
 * A reminder can be snoozed once for 7 days. Pure functions over the stored state; the clock is a
 * parameter so tests are exact.
 */
export const DAY_MS = 86_400_000;
export const FIRST_REMINDER_MS = 14 * DAY_MS;
export const REPEAT_REMINDER_MS = 183 * DAY_MS;
export const SNOOZE_MS = 7 * DAY_MS;

export interface ReminderState {
  enabledAt?: number | undefined;
  /** When the user last proved they have the key (re-typed it), after the first reminder cycle. */
  lastKeyCheckAt?: number | undefined;
  /** How many reminders were answered by re-typing the key. */
  remindersCompleted?: number | undefined;
  snoozedUntil?: number | undefined;
  /** remindersCompleted at the time of the snooze: one snooze per reminder. */
  snoozedCycle?: number | undefined;
}

/** When the next reminder is due, or undefined when backups are off. */
export function nextReminderAt(s: ReminderState): number | undefined {
  if (s.enabledAt === undefined) return undefined;
  const completed = s.remindersCompleted ?? 0;
  const base = s.lastKeyCheckAt ?? s.enabledAt;
  const due = base + (completed === 0 ? FIRST_REMINDER_MS : REPEAT_REMINDER_MS);
  if (s.snoozedUntil !== undefined && s.snoozedCycle === completed) return Math.max(due, s.snoozedUntil);
  return due;
}

export function reminderDue(s: ReminderState, now: number): boolean {
  const at = nextReminderAt(s);
  return at !== undefined && now >= at;
}

/** The state after a snooze; a second snooze of the same reminder changes nothing. */
export function snooze(s: ReminderState, now: number): ReminderState {
  const completed = s.remindersCompleted ?? 0;
  if (s.snoozedCycle === completed && s.snoozedUntil !== undefined) return s;
  return { ...s, snoozedUntil: now + SNOOZE_MS, snoozedCycle: completed };
}

/** The state after the user re-typed the key correctly in answer to a reminder. */
export function keyChecked(s: ReminderState, now: number): ReminderState {
  return {
    ...s,
    lastKeyCheckAt: now,
    remindersCompleted: (s.remindersCompleted ?? 0) + 1,
    snoozedUntil: undefined,
  };
}
