import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createBackend } from './lib/coffer-backend.ts';
import { ChatDb } from './store/chat-db.ts';
import { IndexedDbKeyStore } from './store/key-store.ts';
import { App } from './ui/App.tsx';
import './styles.css';

async function main(): Promise<void> {
  const store = await ChatDb.open();
  const keys = new IndexedDbKeyStore();
  // The app talks to the Coffer server that served it (same origin: no external requests).
  const backend = await createBackend({ serverUrl: window.location.origin, store, keys });
  const root = document.getElementById('root');
  if (!root) throw new Error('missing #root');
  createRoot(root).render(
    <StrictMode>
      <App backend={backend} store={store} />
    </StrictMode>,
  );
}

main().catch((err: unknown) => {
  const root = document.getElementById('root');
  if (root) root.textContent = `Coffer could not start: ${err instanceof Error ? err.message : String(err)}`;
});
