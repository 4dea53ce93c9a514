import type { ReactNode } from 'react';
import type { ProgressEvent } from '../lib/backend.ts';

export function formatBytes(n: number | undefined): string {
  if (n === undefined) return '-';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GB`;
}

export function formatWhen(ms: number | undefined): string {
  if (ms === undefined) return 'Never';
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatTime(ms: number): string {
  const d = new Date(ms);
  const today = new Date();
  if (d.toDateString() === today.toDateString()) {
    return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  }
  return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
}

/** Groups a 64-character recovery key as 16 groups of 4, upper-case (spec 1). */
export function groupKey(key: string): string[] {
  const clean = key.replace(/[^0-9a-z]/gi, '').toUpperCase();
  const groups: string[] = [];
  for (let i = 0; i < clean.length; i += 4) groups.push(clean.slice(i, i + 4));
  return groups;
}

/** A labelled progress bar; its text is announced politely to screen readers. */
export function ProgressBar({ progress, label }: { progress: ProgressEvent | undefined; label: string }) {
  if (!progress) return null;
  const hasTotal = progress.total !== undefined && progress.total > 0;
  const pct = hasTotal
    ? Math.min(100, Math.round(((progress.done ?? 0) / progress.total!) * 100))
    : undefined;
  return (
    <div className="progress">
      <progress aria-label={label} max={100} {...(pct === undefined ? {} : { value: pct })} />
      <p aria-live="polite" className="progress-text">
        {progress.label}
        {pct === undefined ? '' : ` - ${pct}%`}
      </p>
    </div>
  );
}

/** Errors are announced assertively (role=alert) and say what the user can do. */
export function ErrorBox({ error }: { error: string | undefined }) {
  return (
    <div role="alert" className={error ? 'error' : 'error empty'}>
      {error}
    </div>
  );
}

export function Header({ title, back, actions }: { title: string; back?: () => void; actions?: ReactNode }) {
  return (
    <header className="bar">
      {back ? (
        <button type="button" className="icon" onClick={back} aria-label="Back">
          ←
        </button>
      ) : null}
      <h1>{title}</h1>
      <div className="bar-actions">{actions}</div>
    </header>
  );
}
