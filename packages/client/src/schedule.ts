import { DAY_MS } from './reminders.ts';

/**
 * Daily backup schedule: next run at a configured local-clock time ("HH:MM", UTC offset given by
 * `tzOffsetMinutes` so it is testable), skipped when a backup is already fresh; network failures
 * are retried with exponential backoff. Timers and clock are injectable.
 */
export interface ScheduleOptions {
  /** "HH:MM" (24 h). Default "03:00". */
  timeOfDay?: string;
  /** Minutes to add to UTC to get local time (default: the runtime's current offset). */
  tzOffsetMinutes?: number;
  /** A backup younger than this is "fresh" and the run only refreshes the server copy (default 20 h). */
  freshForMs?: number;
  /** Backoff delays after a retryable failure (default 1, 5, 15, 60 minutes). */
  retryDelaysMs?: number[];
}

export function parseTimeOfDay(s: string): number {
  const m = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(s);
  if (!m) throw new RangeError(`timeOfDay must be HH:MM, got ${JSON.stringify(s)}`);
  return (Number(m[1]) * 60 + Number(m[2])) * 60_000;
}

/** The first instant strictly after `now` whose local time is `timeOfDay`. */
export function nextRunAt(now: number, opts: ScheduleOptions = {}): number {
  const offset = (opts.tzOffsetMinutes ?? -new Date(now).getTimezoneOffset()) * 60_000;
  const at = parseTimeOfDay(opts.timeOfDay ?? '03:00');
  const local = now + offset;
  let run = Math.floor(local / DAY_MS) * DAY_MS + at;
  if (run <= local) run += DAY_MS;
  return run - offset;
}

export const DEFAULT_RETRY_DELAYS_MS = [60_000, 5 * 60_000, 15 * 60_000, 60 * 60_000];

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    (t as { unref?: () => void }).unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
