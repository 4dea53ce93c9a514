import { useCallback, useEffect, useState } from 'react';
import type { AccountView, AppBackend, BackupStatusView } from '../lib/backend.ts';
import type { ChatDb } from '../store/chat-db.ts';
import { seedHistory } from '../store/history-generator.ts';
import { ChatBackups, ReminderBanner } from './ChatBackups.tsx';
import { ChatList, Conversation } from './Chats.tsx';
import { Header } from './common.tsx';
import { Register, RestoreKey, Welcome } from './FirstRun.tsx';
import { useRoute } from './router.ts';

function Settings({ account, go }: { account: AccountView; go: (to: string) => void }) {
  return (
    <main className="screen">
      <Header title="Settings" back={() => go('/')} />
      <nav className="content" aria-label="Settings">
        <p className="hint">Signed in as {account.identifier ?? 'this device'}</p>
        <ul className="menu">
          <li>
            <a href="#/settings/chats">Chats</a>
          </li>
        </ul>
      </nav>
    </main>
  );
}

function ChatSettings({ store, go }: { store: ChatDb; go: (to: string) => void }) {
  const [seeding, setSeeding] = useState('');
  return (
    <main className="screen">
      <Header title="Chats" back={() => go('/settings')} />
      <div className="content stack">
        <ul className="menu">
          <li>
            <a href="#/settings/chats/backups">Chat backups</a>
          </li>
        </ul>
        <button
          type="button"
          onClick={async () => {
            setSeeding('Generating chats and photos…');
            await seedHistory(store, { seed: crypto.getRandomValues(new Uint32Array(1))[0] ?? 7 });
            setSeeding('Sample history generated.');
          }}
        >
          Replace chats with a generated sample history
        </button>
        <p aria-live="polite">{seeding}</p>
      </div>
    </main>
  );
}

export function App({ backend, store }: { backend: AppBackend; store: ChatDb }) {
  const [route, go] = useRoute();
  const [account, setAccount] = useState<AccountView>();
  const [status, setStatus] = useState<BackupStatusView>();

  const refresh = useCallback(async () => {
    const a = await backend.account();
    setAccount(a);
    setStatus(a.registered ? await backend.status().catch(() => undefined) : undefined);
  }, [backend]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: refresh on every screen change
  useEffect(() => {
    void refresh();
  }, [refresh, route]);

  if (!account) return <p className="screen content">Loading…</p>;

  if (route === '/restore/verify' && !account.registered) {
    return (
      <Register
        backend={backend}
        purpose="restore"
        onBack={() => go('/')}
        onDone={() => go('/restore/key')}
      />
    );
  }
  if (route === '/register' && !account.registered) {
    return <Register backend={backend} purpose="create" onBack={() => go('/')} onDone={() => go('/')} />;
  }
  if (!account.registered) {
    return <Welcome onCreate={() => go('/register')} onRestore={() => go('/restore/verify')} />;
  }
  if (route === '/restore/key') {
    return <RestoreKey backend={backend} onDone={() => go('/')} onSkip={() => go('/')} />;
  }
  const chat = /^\/chat\/(\d+)$/.exec(route);
  if (chat) return <Conversation store={store} chatId={Number(chat[1])} back={() => go('/')} />;
  if (route === '/settings') return <Settings account={account} go={go} />;
  if (route === '/settings/chats') return <ChatSettings store={store} go={go} />;
  if (route === '/settings/chats/backups')
    return <ChatBackups backend={backend} back={() => go('/settings/chats')} />;

  return (
    <ChatList
      store={store}
      open={(id) => go(`/chat/${id}`)}
      onSeed={async () => {
        // A different history on every device, so a restore visibly brings back this one.
        await seedHistory(store, { seed: crypto.getRandomValues(new Uint32Array(1))[0] ?? 42 });
      }}
      banner={
        status?.enabled && status.reminderDue ? <ReminderBanner backend={backend} onChange={refresh} /> : null
      }
      actions={
        <a className="button" href="#/settings">
          Settings
        </a>
      }
    />
  );
}
