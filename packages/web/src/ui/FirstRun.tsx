import { type FormEvent, useEffect, useRef, useState } from 'react';
import { type AppBackend, errorMessage, type ProgressEvent } from '../lib/backend.ts';
import { ErrorBox, Header, ProgressBar } from './common.tsx';

export function Welcome({ onCreate, onRestore }: { onCreate: () => void; onRestore: () => void }) {
  return (
    <main className="screen welcome">
      <h1>Coffer Messenger</h1>
      <p>A small demo messenger with end-to-end encrypted chat backups.</p>
      <div className="stack">
        <button type="button" className="primary" onClick={onCreate}>
          Create account
        </button>
        <button type="button" onClick={onRestore}>
          Restore from backup
        </button>
      </div>
    </main>
  );
}

/** Identity verification: an identifier, then the 6-digit code it received. */
export function Register({
  backend,
  purpose,
  onDone,
  onBack,
}: {
  backend: AppBackend;
  purpose: 'create' | 'restore';
  onDone: () => void;
  onBack: () => void;
}) {
  const [identifier, setIdentifier] = useState('');
  const [sessionId, setSessionId] = useState<string>();
  const [code, setCode] = useState('');
  const [devCode, setDevCode] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const codeRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (sessionId) codeRef.current?.focus();
  }, [sessionId]);

  async function sendCode(ev: FormEvent) {
    ev.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      const started = await backend.startVerification(identifier.trim());
      setSessionId(started.sessionId);
      setDevCode(await backend.devOutboxCode(identifier.trim()).catch(() => undefined));
    } catch (err) {
      setError(errorMessage(err).message);
    } finally {
      setBusy(false);
    }
  }

  async function verify(ev: FormEvent) {
    ev.preventDefault();
    if (!sessionId) return;
    setError(undefined);
    setBusy(true);
    try {
      await backend.completeVerification(sessionId, code.trim(), identifier.trim());
      onDone();
    } catch (err) {
      setError(errorMessage(err).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="screen">
      <Header title={purpose === 'restore' ? 'Verify it is you' : 'Create account'} back={onBack} />
      <div className="content">
        {purpose === 'restore' ? (
          <p>First confirm your phone number or e-mail. Then you will enter your recovery key.</p>
        ) : null}
        <form onSubmit={sendCode} className="stack">
          <label htmlFor="identifier">Phone number or e-mail</label>
          <input
            id="identifier"
            // biome-ignore lint/a11y/noAutofocus: the only field of this step; saves a Tab
            autoFocus
            name="identifier"
            autoComplete="username"
            required
            value={identifier}
            disabled={sessionId !== undefined}
            onChange={(e) => setIdentifier(e.target.value)}
          />
          {sessionId ? null : (
            <button type="submit" className="primary" disabled={busy || !identifier.trim()}>
              Send code
            </button>
          )}
        </form>
        {sessionId ? (
          <form onSubmit={verify} className="stack">
            {devCode ? (
              <aside className="dev-note" aria-label="Development verification code">
                <strong>Development</strong> server outbox: the code sent to {identifier.trim()} is{' '}
                <code data-testid="dev-code">{devCode}</code>
                <button type="button" onClick={() => setCode(devCode)}>
                  Use this code
                </button>
              </aside>
            ) : (
              <p>We sent a 6-digit code. It expires in 10 minutes.</p>
            )}
            <label htmlFor="code">Verification code</label>
            <input
              id="code"
              ref={codeRef}
              inputMode="numeric"
              autoComplete="one-time-code"
              pattern="[0-9]{6}"
              maxLength={6}
              required
              value={code}
              onChange={(e) => setCode(e.target.value.replace(/\D/g, ''))}
            />
            <button type="submit" className="primary" disabled={busy || code.length !== 6}>
              Verify
            </button>
          </form>
        ) : null}
        <p aria-live="polite" className="status">
          {busy ? 'Working…' : ''}
        </p>
        <ErrorBox error={error} />
      </div>
    </main>
  );
}

/** Restore on a new device: the recovery key, then a progress bar, then the chats. */
export function RestoreKey({
  backend,
  onDone,
  onSkip,
}: {
  backend: AppBackend;
  onDone: () => void;
  onSkip: () => void;
}) {
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<ProgressEvent>();
  const [error, setError] = useState<string>();
  const [result, setResult] = useState<{ chats: number; messages: number }>();

  async function restore(ev: FormEvent) {
    ev.preventDefault();
    setError(undefined);
    setBusy(true);
    setProgress({ phase: 'start', label: 'Looking for your backup…' });
    try {
      setResult(await backend.restore({ recoveryKey: key, onProgress: setProgress }));
      setProgress(undefined);
    } catch (err) {
      setProgress(undefined);
      setError(errorMessage(err).message);
    } finally {
      setBusy(false);
    }
  }

  const letters = key.replace(/[^0-9a-z]/gi, '').length;
  return (
    <main className="screen">
      <Header title="Restore from backup" />
      <div className="content">
        {result ? (
          <div className="stack" role="status">
            <p>
              Restored {result.chats} chats and {result.messages} messages. Photos and files keep downloading
              in the background.
            </p>
            <button type="button" className="primary" onClick={onDone}>
              Open chats
            </button>
          </div>
        ) : (
          <form onSubmit={restore} className="stack">
            <p>
              Enter the 64-character recovery key you saved when you turned on backups. Upper or lower case,
              spaces and dashes do not matter.
            </p>
            <label htmlFor="recovery-key">Recovery key</label>
            <textarea
              id="recovery-key"
              rows={4}
              spellCheck={false}
              autoCapitalize="characters"
              autoComplete="off"
              aria-describedby="key-count"
              value={key}
              onChange={(e) => setKey(e.target.value)}
            />
            <p id="key-count" className="hint">
              {letters} of 64 characters
            </p>
            <button type="submit" className="primary" disabled={busy || letters === 0}>
              Restore
            </button>
            <button type="button" onClick={onSkip} disabled={busy}>
              Skip and start without history
            </button>
          </form>
        )}
        <ProgressBar progress={progress} label="Restore progress" />
        <ErrorBox error={error} />
      </div>
    </main>
  );
}
