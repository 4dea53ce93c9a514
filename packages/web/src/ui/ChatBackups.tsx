import { type FormEvent, useCallback, useEffect, useState } from 'react';
import { type AppBackend, type BackupStatusView, errorMessage, type ProgressEvent } from '../lib/backend.ts';
import { ErrorBox, formatBytes, formatWhen, groupKey, Header, ProgressBar } from './common.tsx';

/** Shows the key grouped, with a copy button, then asks the user to type it back. */
function RecoveryKeyPanel({
  backend,
  recoveryKey,
  onConfirmed,
}: {
  backend: AppBackend;
  recoveryKey: string | undefined;
  onConfirmed: () => void;
}) {
  const [stage, setStage] = useState<'show' | 'confirm'>(recoveryKey ? 'show' : 'confirm');
  const [typed, setTyped] = useState('');
  const [copied, setCopied] = useState('');
  const [error, setError] = useState<string>();

  async function copy() {
    if (!recoveryKey) return;
    try {
      await navigator.clipboard.writeText(groupKey(recoveryKey).join(' '));
      setCopied('Recovery key copied. Paste it somewhere safe, then clear your clipboard.');
    } catch {
      setCopied('Copying is not allowed here: select the key and copy it, or write it down.');
    }
  }

  async function confirm(ev: FormEvent) {
    ev.preventDefault();
    setError(undefined);
    if (await backend.confirmRecoveryKey(typed)) onConfirmed();
    else setError('That does not match your recovery key. Check each group of 4 characters and try again.');
  }

  if (stage === 'show' && recoveryKey) {
    return (
      <section className="card" aria-labelledby="rk-title">
        <h2 id="rk-title">Your recovery key</h2>
        <p>
          This key is the only way to restore your backup. Write it down or store it in a password manager.
          Coffer cannot recover it for you.
        </p>
        <p className="recovery-key" data-testid="recovery-key">
          {groupKey(recoveryKey).map((g, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: the groups are positional
            <span key={i}>{g}</span>
          ))}
        </p>
        <div className="row">
          <button type="button" onClick={copy}>
            Copy
          </button>
          <button type="button" className="primary" onClick={() => setStage('confirm')}>
            I wrote it down
          </button>
        </div>
        <p aria-live="polite">{copied}</p>
      </section>
    );
  }
  return (
    <form className="card stack" onSubmit={confirm} aria-labelledby="rk-confirm-title">
      <h2 id="rk-confirm-title">Confirm your recovery key</h2>
      <p>
        {recoveryKey
          ? 'Type the key you wrote down, to make sure it is correct.'
          : 'Type the recovery key you wrote down when you turned on backups, to make sure you have it.'}
      </p>
      <label htmlFor="confirm-key">Recovery key</label>
      <textarea
        id="confirm-key"
        rows={3}
        spellCheck={false}
        autoComplete="off"
        value={typed}
        onChange={(e) => setTyped(e.target.value)}
      />
      <div className="row">
        {recoveryKey ? (
          <button type="button" onClick={() => setStage('show')}>
            See key again
          </button>
        ) : null}
        <button type="submit" className="primary">
          Confirm
        </button>
      </div>
      <ErrorBox error={error} />
    </form>
  );
}

/** "Do you still have your recovery key?" (spec 8). */
export function ReminderBanner({ backend, onChange }: { backend: AppBackend; onChange: () => void }) {
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState('');
  const [error, setError] = useState<string>();
  return (
    <section className="banner" aria-label="Recovery key reminder">
      <p>Do you still have your recovery key? You need it to restore your chats on a new phone.</p>
      {open ? (
        <form
          className="stack"
          onSubmit={async (ev) => {
            ev.preventDefault();
            if (await backend.confirmRecoveryKey(typed)) onChange();
            else
              setError(
                'That is not your recovery key. If you lost it, turn backups off and on to make a new one.',
              );
          }}
        >
          <label htmlFor="reminder-key">Recovery key</label>
          <input
            id="reminder-key"
            autoComplete="off"
            spellCheck={false}
            value={typed}
            onChange={(e) => setTyped(e.target.value)}
          />
          <button type="submit" className="primary">
            Check key
          </button>
          <ErrorBox error={error} />
        </form>
      ) : (
        <div className="row">
          <button type="button" className="primary" onClick={() => setOpen(true)}>
            Check my key
          </button>
          <button type="button" onClick={() => backend.snoozeReminder().then(onChange)}>
            Remind me later
          </button>
        </div>
      )}
    </section>
  );
}

export function ChatBackups({ backend, back }: { backend: AppBackend; back: () => void }) {
  const [status, setStatus] = useState<BackupStatusView>();
  const [pendingKey, setPendingKey] = useState<string>();
  const [progress, setProgress] = useState<ProgressEvent>();
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();
  const [confirmOff, setConfirmOff] = useState(false);
  const [cancel, setCancel] = useState<AbortController>();

  const refresh = useCallback(async () => {
    setStatus(await backend.status());
    setPendingKey(await backend.pendingRecoveryKey());
  }, [backend]);
  useEffect(() => {
    refresh().catch((err) => setError(errorMessage(err).message));
  }, [refresh]);

  async function run(name: string, fn: () => Promise<void>, done: string) {
    setError(undefined);
    setNotice(undefined);
    setBusy(name);
    let succeeded = false;
    try {
      await fn();
      succeeded = true;
    } catch (err) {
      setError(errorMessage(err).message);
    } finally {
      setBusy(undefined);
      setProgress(undefined);
      await refresh().catch(() => undefined);
    }
    // Only after the refresh: the notice and the status it speaks of ("Last verified") show together.
    if (succeeded) setNotice(done);
  }

  return (
    <main className="screen">
      <Header title="Chat backups" back={back} />
      <div className="content stack">
        <section className="card">
          <h2>What is backed up</h2>
          <p>
            Your messages, chats, contacts and groups, and your photos and files. Backups are{' '}
            <strong>end-to-end encrypted</strong> on this device before they are uploaded: the server stores
            only data it cannot read, and cannot tell whose it is. Only your 64-character recovery key can
            open them.
          </p>
        </section>

        {status === undefined ? <p>Loading…</p> : null}

        {status && !status.enabled ? (
          <section className="card stack">
            <p>Backups are off. Nothing is uploaded until you turn them on.</p>
            <button
              type="button"
              className="primary"
              disabled={busy !== undefined}
              onClick={() =>
                run(
                  'enable',
                  async () => {
                    setPendingKey(await backend.enableBackups());
                  },
                  'Backups are on. Save your recovery key.',
                )
              }
            >
              Turn on backups
            </button>
          </section>
        ) : null}

        {status?.enabled && !status.keyConfirmed ? (
          <RecoveryKeyPanel
            backend={backend}
            recoveryKey={pendingKey}
            onConfirmed={() => {
              setNotice('Recovery key confirmed.');
              refresh();
            }}
          />
        ) : null}

        {status?.enabled && status.keyConfirmed ? (
          <>
            {status.reminderDue ? <ReminderBanner backend={backend} onChange={() => refresh()} /> : null}
            <section className="card" aria-labelledby="last-title">
              <h2 id="last-title">Last backup</h2>
              <dl className="facts">
                <dt>Last backup</dt>
                <dd data-testid="last-backup">{formatWhen(status.lastBackupAt)}</dd>
                <dt>Backup size</dt>
                <dd data-testid="backup-size">{formatBytes(status.lastBackupBytes)}</dd>
                <dt>Media</dt>
                <dd data-testid="media-count">
                  {status.mediaCount ?? 0} files
                  {status.mediaBytes ? ` (${formatBytes(status.mediaBytes)})` : ''}
                </dd>
                <dt>Last verified restorable</dt>
                <dd data-testid="last-verified">{formatWhen(status.lastVerifiedAt)}</dd>
              </dl>
              <button
                type="button"
                className="primary"
                disabled={busy !== undefined}
                onClick={() => {
                  const abort = new AbortController();
                  setCancel(abort);
                  run(
                    'backup',
                    () => backend.backupNow({ onProgress: setProgress, signal: abort.signal }),
                    'Backup complete.',
                  ).finally(() => setCancel(undefined));
                }}
              >
                Back up now
              </button>
              {cancel ? (
                <button type="button" onClick={() => cancel.abort()}>
                  Cancel backup
                </button>
              ) : null}
            </section>
            <section className="card stack" aria-labelledby="schedule-title">
              <h2 id="schedule-title">Schedule</h2>
              <label htmlFor="schedule-time">Back up daily at</label>
              <input
                id="schedule-time"
                type="time"
                value={status.scheduleTime}
                onChange={(e) =>
                  run(
                    'schedule',
                    () => backend.setScheduleTime(e.target.value),
                    `Daily backup at ${e.target.value}.`,
                  )
                }
              />
              <p className="hint">
                Next backup: {formatWhen(status.nextBackupAt)}. Skipped when a fresh one exists.
              </p>
            </section>
            <section className="card stack" aria-labelledby="verify-title">
              <h2 id="verify-title">Verify backup</h2>
              <p>
                Downloads your latest backup and checks that it opens with your key, without changing your
                chats.
              </p>
              <button
                type="button"
                disabled={busy !== undefined}
                onClick={() =>
                  run(
                    'verify',
                    () => backend.verifyBackup({ onProgress: setProgress }),
                    'Your backup is restorable.',
                  )
                }
              >
                Verify backup
              </button>
            </section>
            <section className="card stack" aria-labelledby="off-title">
              <h2 id="off-title">Turn off</h2>
              {confirmOff ? (
                <fieldset className="stack">
                  <legend>Delete your backup?</legend>
                  <p>
                    This deletes your backup from the server and forgets your recovery key on this device.
                    Your chats stay on this device.
                  </p>
                  <div className="row">
                    <button type="button" onClick={() => setConfirmOff(false)}>
                      Cancel
                    </button>
                    <button
                      type="button"
                      className="danger"
                      disabled={busy !== undefined}
                      onClick={() =>
                        run(
                          'disable',
                          async () => {
                            await backend.disableBackups();
                            setConfirmOff(false);
                          },
                          'Backups are off and your backup was deleted from the server.',
                        )
                      }
                    >
                      Delete backup
                    </button>
                  </div>
                </fieldset>
              ) : (
                <button type="button" className="danger" onClick={() => setConfirmOff(true)}>
                  Turn off and delete backup
                </button>
              )}
            </section>
          </>
        ) : null}

        <ProgressBar progress={progress} label="Backup progress" />
        <p aria-live="polite" className="status">
          {busy === 'enable'
            ? 'Turning on backups: making your recovery key and registering this device…'
            : ''}
          {busy === 'disable' ? 'Deleting your backup from the server…' : ''}
          {busy && !progress && (busy === 'backup' || busy === 'verify') ? 'Starting…' : ''}
        </p>
        <p role="status" className="notice">
          {notice}
        </p>
        <ErrorBox error={error} />
      </div>
    </main>
  );
}
